"""Secrets: with ANTHROPIC_API_KEY=sk-ant-TESTSECRET and debug logging on (`--debug` and
ONEIE_LOG_LEVEL=DEBUG), the key, and the values of x-api-key / authorization headers,
appear nowhere: not in the store's files (main database and -wal), `oneie export` (md and
jsonl), the log files, crash output, or the dashboard's screen (issue 7, item 10).

The runs are chosen to give the secret every chance: a sim run; a claude run against the
scripted server whose model says the key and echoes auth headers, with a 401 that echoes
it; a command agent that prints its environment's key; a runner bug, an agent exception and
an internal crash whose messages carry the key; and the dashboard running a claude squad.
Every file under the test's folder (store, logs, config, exports) is scanned."""

from __future__ import annotations

import html
import logging
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from oneie_tui import paths
from oneie_tui.agents.base import BackendOptions
from oneie_tui.trust import redact
from tests.fakes.anthropic_server import (
    ScriptedAnthropicServer,
    emit_event,
    finish,
    http_error,
    per_agent,
)

ROOT = Path(__file__).resolve().parents[2]
SECRET = "sk-ant-TESTSECRET"
NEEDLES = [SECRET.encode(), b"TESTSECRET", b"tok_HEADERSECRET"]
LEAKY = f"debug: x-api-key: {SECRET} authorization: Bearer tok_HEADERSECRET\n"

# An agent backend raising with the key in its message, and a runner bug doing the same.
AGENT_RAISES = (
    "import os\n"
    "from oneie_tui.agents import sim\n"
    "_run = sim.SimBackend.run\n"
    "async def run(self, ctx):\n"
    "    if ctx.agent_id == 'agent-1':\n"
    "        raise RuntimeError('auth failed, x-api-key: ' + os.environ['ANTHROPIC_API_KEY'])\n"
    "    return await _run(self, ctx)\n"
    "sim.SimBackend.run = run\n"
)
RUNNER_BUG = (
    "import os\n"
    "from oneie_tui.engine.runner import Runner\n"
    "_mark = Runner._mark_dead_events\n"
    "def buggy(self):\n"
    "    if any(s.status == 'completed' for s in self.agents.values()):\n"
    "        raise ValueError('bug with authorization: Bearer ' + os.environ['ANTHROPIC_API_KEY'])\n"
    "    return _mark(self)\n"
    "Runner._mark_dead_events = buggy\n"
)
INTERNAL_CRASH = (
    "import os\n"
    "import oneie_tui.commands.headless as h\n"
    "def crash(*a, **k):\n"
    "    raise KeyError('x-api-key=' + os.environ['ANTHROPIC_API_KEY'])\n"
    "h.run_headless = crash\n"
)
PRINTS_KEY = (
    "import os\n"
    "key = os.environ['ANTHROPIC_API_KEY']\n"
    "print('my key is', key)\n"
    "print('x-api-key:', key, flush=True)\n"
    "import sys; print('authorization: Bearer', key, file=sys.stderr)\n"
)


@pytest.fixture
def env(tmp_path: Path, isolated_dirs: Path) -> dict[str, str]:
    e = {
        **os.environ,
        "ANTHROPIC_API_KEY": SECRET,
        "ONEIE_LOG_LEVEL": "DEBUG",
        "ANTHROPIC_LOG": "debug",  # the SDK's own debug logging too
        "ONEIE_STORE": str(tmp_path / "store" / "runs.sqlite3"),
        "PYTHONPATH": str(ROOT),
    }
    e.pop("ANTHROPIC_BASE_URL", None)
    return e


def _cli(env: dict[str, str], *args: str, patch: str = "", cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    code = patch + "import sys\nfrom oneie_tui.cli import main\nsys.exit(main(sys.argv[1:]))\n"
    return subprocess.run(
        [sys.executable, "-c", code, "--debug", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
    )


def _exports(env: dict[str, str], run: str = "last") -> str:
    out = ""
    for fmt in ("md", "jsonl"):
        done = _cli(env, "export", run, "--format", fmt)
        assert done.returncode == 0, done.stderr
        out += done.stdout + done.stderr
    return out


def _assert_nowhere(tmp_path: Path, *texts: str) -> None:
    for text in texts:
        for needle in NEEDLES:
            assert needle.decode() not in text, text[:2000]
    scanned = 0
    for path in tmp_path.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            scanned += 1
            for needle in NEEDLES:
                assert needle not in data, path


def _log_text(isolated_dirs: Path) -> str:
    logs = list(paths.log_dir().glob("*.log"))
    assert logs, "debug logging wrote a log file"
    return "".join(p.read_text(errors="replace") for p in logs)


def _spec(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "spec.toml"
    path.write_text('[feature]\nname = "Secrets"\n' + body, encoding="utf-8")
    return path


def test_sim_run_with_debug_logging(tmp_path: Path, env: dict[str, str], isolated_dirs: Path) -> None:
    spec = _spec(tmp_path, '[[agents]]\nid = "a"\nsim = { duration = 0.3 }\n[[agents]]\nid = "b"\nsim = { duration = 0.3 }\n')
    done = [_cli(env, "run", str(spec), "--headless", *flag) for flag in ([], ["--json"])]
    assert all(d.returncode == 0 for d in done), [d.stderr for d in done]
    assert "DEBUG" in _log_text(isolated_dirs)  # debug logging really was on
    _assert_nowhere(tmp_path, *(d.stdout + d.stderr for d in done), _exports(env))


def test_claude_run_against_the_scripted_server(tmp_path: Path, env: dict[str, str], isolated_dirs: Path) -> None:
    spec = _spec(
        tmp_path,
        '[run]\nbackend = "claude"\non_failure = "continue"\n'
        '[[agents]]\nid = "agent-a"\n[[agents]]\nid = "agent-b"\nclaude = { max_retries = 0 }\n',
    )
    script = per_agent({
        "agent-a": [emit_event("course_created", {"note": f"key {SECRET}"}, text=LEAKY), finish(f"done {SECRET}")],
        "agent-b": [http_error(401, "authentication_error", f"invalid x-api-key {SECRET}")],
    })
    with ScriptedAnthropicServer(script) as srv:  # type: ignore[arg-type]
        run = _cli(env, "run", str(spec), "--headless", "--json", "--base-url", srv.base_url)
        sent = srv.message_requests()
    assert sent and SECRET in " ".join(map(str, sent[0].headers.values()))  # the key was really sent
    assert run.returncode == 1, run.stderr  # agent-b failed on the 401
    logs = _log_text(isolated_dirs)
    assert "HTTP Request" in logs or "Request options" in logs  # the SDK's debug records
    exported = _exports(env)
    assert redact.MASK in exported  # the leaky text was masked, not dropped
    _assert_nowhere(tmp_path, run.stdout + run.stderr, exported, logs)


def test_command_agent_printing_its_key(tmp_path: Path, env: dict[str, str], isolated_dirs: Path) -> None:
    script = tmp_path / "prints_key.py"
    script.write_text(PRINTS_KEY)
    spec = _spec(tmp_path, f'[run]\nbackend = "command"\n[[agents]]\nid = "leaky"\ncommand = {{ argv = [{sys.executable!r}, {str(script)!r}] }}\n')
    run = _cli(env, "run", str(spec), "--headless", "--json", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    exported = _exports(env)
    assert "my key is [redacted]" in exported
    _assert_nowhere(tmp_path, run.stdout + run.stderr, exported)


def test_wal_of_a_killed_run_holds_no_key(tmp_path: Path, env: dict[str, str]) -> None:
    """kill -9 while a command agent prints its key: the -wal file left behind is clean."""
    script = tmp_path / "prints_key_forever.py"
    script.write_text(PRINTS_KEY + "import time\nwhile True:\n    print('x-api-key:', key, flush=True)\n    time.sleep(0.01)\n")
    spec = _spec(tmp_path, f'[run]\nbackend = "command"\n[[agents]]\nid = "leaky"\ncommand = {{ argv = [{sys.executable!r}, {str(script)!r}] }}\n')
    store = Path(env["ONEIE_STORE"])
    proc = subprocess.Popen(
        [sys.executable, "-m", "oneie_tui", "--debug", "run", str(spec), "--headless", "--json"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True,
    )
    assert proc.stdout is not None
    seen = 0
    for line in proc.stdout:
        seen += "[redacted]" in line
        if seen >= 50:
            break
    os.killpg(proc.pid, 9)
    proc.wait(timeout=10)
    wal = Path(str(store) + "-wal")
    assert wal.exists() and wal.stat().st_size > 0, "the kill left a WAL behind"
    _assert_nowhere(tmp_path)


@pytest.mark.parametrize("crash", ["agent_raises", "runner_bug", "internal_crash"])
def test_crashing_runs(tmp_path: Path, env: dict[str, str], isolated_dirs: Path, crash: str) -> None:
    patch = {"agent_raises": AGENT_RAISES, "runner_bug": RUNNER_BUG, "internal_crash": INTERNAL_CRASH}[crash]
    spec = _spec(
        tmp_path,
        '[run]\non_failure = "continue"\n'
        '[[agents]]\nid = "agent-0"\nsim = { duration = 0.2 }\n[[agents]]\nid = "agent-1"\nsim = { duration = 0.6 }\n',
    )
    run = _cli(env, "run", str(spec), "--headless", "--json", patch=patch)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "Traceback" not in run.stderr
    texts = [run.stdout + run.stderr, _log_text(isolated_dirs)]
    if crash == "internal_crash":
        assert run.stderr.count("\n") == 1 and "internal error: KeyError" in run.stderr, run.stderr
        assert "Traceback" in texts[1]  # the details went to the log file, redacted
    else:
        texts.append(_exports(env))
        assert redact.MASK in texts[-1]  # the reason was kept, masked
    _assert_nowhere(tmp_path, *texts)


@pytest.mark.anyio
async def test_dashboard_screen_and_log(tmp_path: Path, isolated_dirs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from oneie_tui import logsetup
    from oneie_tui.agents import sim
    from oneie_tui.engine.session import RunOptions
    from oneie_tui.ui.app import OneieApp

    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
    original = sim.SimBackend.run

    async def raising(self: Any, ctx: Any) -> Any:
        if ctx.agent_id == "agent-sim":
            raise RuntimeError(f"boom with x-api-key: {SECRET}")
        return await original(self, ctx)

    monkeypatch.setattr(sim.SimBackend, "run", raising)
    root = logging.getLogger()
    before = list(root.handlers), root.level
    logsetup.configure(logging.DEBUG)
    spec = _spec(
        tmp_path,
        '[run]\nbackend = "claude"\non_failure = "continue"\n'
        '[[agents]]\nid = "agent-a"\n[[agents]]\nid = "agent-b"\nclaude = { max_retries = 0 }\n'
        '[[agents]]\nid = "agent-sim"\nbackend = "sim"\nsim = { duration = 0.2 }\n',
    )
    script = per_agent({
        "agent-a": [emit_event("course_created", {"note": f"key {SECRET}"}, text=LEAKY), finish(f"done {SECRET}")],
        "agent-b": [http_error(401, "authentication_error", f"invalid x-api-key {SECRET}")],
    })
    screens: list[str] = []
    try:
        with ScriptedAnthropicServer(script) as srv:  # type: ignore[arg-type]
            app = OneieApp(spec, store_path=tmp_path / "store" / "runs.sqlite3", run_on_start=True,
                           options=RunOptions(backend_options=BackendOptions(base_url=srv.base_url)), cursor_blink=False)
            async with app.run_test(size=(160, 50)) as pilot:
                for _ in range(600):
                    await pilot.pause(0.05)
                    if app.live is not None and not app.running and app.live.runner.status != "pending":
                        break
                await pilot.pause(0.3)
                assert app.live is not None and app.live.runner.agents["agent-b"].status == "failed"
                screens.append(_screen_text(app))
                for agent in ("agent-a", "agent-b", "agent-sim"):  # each agent's zoomed view
                    app.dashboard.grid.panels[agent].action_zoom()  # type: ignore[union-attr]
                    await pilot.pause(0.2)
                    screens.append(_screen_text(app))
                    await pilot.press("escape")
                assert app.is_running
    finally:
        for handler in root.handlers[:]:
            if handler not in before[0]:
                root.removeHandler(handler)
                handler.close()
        root.setLevel(before[1])
    shown = "\n".join(screens)
    assert redact.MASK in shown  # the leaky lines were on screen, masked
    assert "agent-sim" in shown and "RuntimeError" in shown
    _assert_nowhere(tmp_path, shown, _log_text(isolated_dirs))


def _screen_text(app: Any) -> str:
    """The screen's text: the SVG screenshot without its markup."""
    svg = app.export_screenshot()
    return html.unescape(re.sub(r"<[^>]+>", "", svg)).replace("\xa0", " ")


@pytest.mark.parametrize("written", [SECRET, "plain-value-of-the-env-key"])
def test_a_spec_holding_a_key_is_refused_and_never_stored(
    tmp_path: Path, env: dict[str, str], written: str
) -> None:
    """A key written into the spec (an sk-ant- key, or the environment key's own value):
    exit 2, one line naming the file, line and column, and nothing stored."""
    env = {**env, "ANTHROPIC_API_KEY": written}
    spec = _spec(
        tmp_path,
        f'[run]\nbackend = "command"\n[[agents]]\nid = "leaky"\n'
        f'command = {{ argv = ["true"], env = {{ ANTHROPIC_API_KEY = "{written}" }} }}\n',
    )
    run = _cli(env, "run", str(spec), "--headless", "--json", cwd=tmp_path)
    assert run.returncode == 2, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in run.stderr
    assert f"{spec}:7:59:" in lines[0] and "API key" in lines[0]
    assert written not in run.stdout + run.stderr
    spec.unlink()  # the only place the key may stay is the user's own file
    _assert_nowhere(tmp_path, run.stdout)
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert written.encode() not in path.read_bytes(), path
