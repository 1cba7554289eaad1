"""With ANTHROPIC_API_KEY=sk-ant-TESTSECRET and debug logging on, the key appears nowhere:
not in the store file, `oneie export`, the log files, or the headless output. The scripted
model even says the key and an error echoes it, so the redaction has something to catch."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from oneie_tui.trust import redact
from tests.fakes.anthropic_server import (
    ScriptedAnthropicServer,
    emit_event,
    finish,
    http_error,
    per_agent,
    wait_for_events,
)
from tests.unit.test_claude_backend import ROOT, SECRET, api_key, run_claude, write_spec  # noqa: F401

LEAKY = f"debug: x-api-key: {SECRET} authorization: Bearer {SECRET}\n"


def store_bytes(store_path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in store_path.parent.glob(store_path.name + "*"))


def test_redact_masks_keys_and_header_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "plain-looking-secret-value")
    samples = [
        "sk-ant-api03-abcDEF_123-xyz",
        "{'x-api-key': 'abc123456789', 'authorization': 'Bearer tok_987654321'}",
        "X-Api-Key: abc123456789\r\nAuthorization: Bearer tok_987654321",
        "key=plain-looking-secret-value",
    ]
    for sample in samples:
        out = redact.redact(sample)
        for secret in (
            "sk-ant-api03",
            "abc123456789",
            "tok_987654321",
            "plain-looking-secret-value",
        ):
            assert secret not in out, (sample, out)
        assert redact.MASK in out
    assert (
        redact.redact("nothing secret here: authorization flow")
        == "nothing secret here: authorization flow"
    )


def test_log_records_are_redacted_once_installed(tmp_path: Path) -> None:
    redact.install()
    target = tmp_path / "x.log"
    handler = logging.FileHandler(target)
    log = logging.getLogger("oneie.test.redact")
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    try:
        log.debug("headers: %s", {"x-api-key": SECRET, "authorization": f"Bearer {SECRET}"})
        try:
            raise RuntimeError(f"boom {SECRET}")
        except RuntimeError:
            log.exception("failed")
    finally:
        log.removeHandler(handler)
        handler.close()
    data = target.read_text()
    assert SECRET not in data
    assert data.count(redact.MASK) >= 3


def test_in_process_run_with_debug_logs_leaks_nothing(tmp_path: Path, isolated_dirs: Path) -> None:
    from oneie_tui import paths

    log_dir = paths.log_dir()
    log_dir.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(log_dir / "debug.log")
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    spec = write_spec(
        tmp_path,
        '[run]\nbackend = "claude"\non_failure = "continue"\n\n[[agents]]\nid = "agent-a"\n\n[[agents]]\nid = "agent-b"\nclaude = { max_retries = 0 }\n',
    )
    script = per_agent(
        {
            "agent-a": [
                emit_event("course_created", {"note": f"key {SECRET}"}, text=LEAKY),
                finish(f"done {SECRET}"),
            ],
            "agent-b": [http_error(401, "authentication_error", f"invalid x-api-key {SECRET}")],
        }
    )
    try:
        logging.getLogger("oneie.test").debug("request headers %s", {"x-api-key": SECRET})
        run = run_claude(tmp_path, spec, script)
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        handler.close()
    assert run.status("agent-b")[0] == "failed"
    assert (
        run.server.message_requests()[0].headers["authorization"] == f"Bearer {SECRET}"
    )  # it was sent
    logs = b"".join(p.read_bytes() for p in log_dir.iterdir())
    assert b"Sending HTTP Request" in logs or b"HTTP Response" in logs  # SDK debug logs were on
    assert SECRET.encode() not in logs
    assert SECRET.encode() not in store_bytes(run.store_path)
    assert all(SECRET not in e.to_json() for e in run.events)
    assert any(redact.MASK in e.to_json() for e in run.events)  # there was something to hide


def _oneie(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "oneie_tui", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def course_crud_script() -> object:
    return per_agent(
        {
            "agent-backend": [
                emit_event(
                    "schema_ready", {"tables": ["courses", "lessons"]}, text="Schema designed.\n"
                ),
                emit_event("backend_ready", text=LEAKY),
                finish("backend done"),
            ],
            "agent-frontend": [
                emit_event("frontend_ready", text="Components built.\n"),
                finish("frontend done"),
            ],
            "agent-quality": [
                emit_event("tests_defined", text="Tests written.\n"),
                wait_for_events(["backend_ready", "frontend_ready"]),
                finish("validated", text="All acceptance criteria pass.\n"),
            ],
        }
    )


def test_cli_headless_run_and_export_against_the_scripted_server(
    tmp_path: Path, isolated_dirs: Path
) -> None:
    store = tmp_path / "store" / "runs.sqlite3"
    env = {
        **os.environ,
        "ANTHROPIC_API_KEY": SECRET,
        "ANTHROPIC_LOG": "debug",  # the SDK's own debug logging, to stderr
        "ONEIE_STORE": str(store),
        "PYTHONPATH": str(ROOT),
    }
    env.pop("ANTHROPIC_BASE_URL", None)
    with ScriptedAnthropicServer(course_crud_script()) as srv:  # type: ignore[arg-type]
        result = _oneie(
            "run",
            "specs/claude-course-crud.toml",
            "--headless",
            "--base-url",
            srv.base_url,
            env=env,
        )
        requests = srv.message_requests()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert (
        "HTTP Request" in result.stderr or "Request options" in result.stderr
    )  # debug logs were on
    assert len(requests) == 3 + 2 + 3
    assert len({r.system_blocks[0]["text"] for r in requests}) == 1
    assert "agent-frontend" in result.stdout and "completed" in result.stdout

    exported = [_oneie("export", "last", "--format", fmt, env=env) for fmt in ("jsonl", "md")]
    assert all(e.returncode == 0 for e in exported), [e.stderr for e in exported]
    assert '"schema_ready"' in exported[0].stdout

    screen = result.stdout + result.stderr + "".join(e.stdout + e.stderr for e in exported)
    assert SECRET not in screen
    assert SECRET.encode() not in store_bytes(store)
    logs = [p for p in Path(isolated_dirs).rglob("*.log")]
    assert all(SECRET.encode() not in p.read_bytes() for p in logs)
    assert redact.MASK in exported[0].stdout  # the model's leaky line was masked, not dropped


def test_cli_missing_key_is_one_line_exit_2(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "ANTHROPIC_API_KEY"}
    env["ONEIE_STORE"] = str(tmp_path / "runs.sqlite3")
    result = _oneie("run", "specs/claude-course-crud.toml", "--headless", env=env)
    assert result.returncode == 2
    assert "ANTHROPIC_API_KEY is not set" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
