"""The control channel behind `oneie emit` / `oneie progress`."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import anyio

from oneie_tui.engine.control_socket import ENV_CONTROL, ENV_TOKEN, ControlChannel
from oneie_tui.engine.runner import Runner
from tests.fakes.process_tools import PY, loaded, of_type, outputs, run_spec, script


def _oneie(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("ONEIE_")}
    return subprocess.run(
        [sys.executable, "-m", "oneie_tui", *args],
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_emit_outside_a_run_fails_with_a_clear_message() -> None:
    done = _oneie("emit", "schema_ready")
    assert done.returncode == 2
    assert "not inside a oneie run" in done.stderr
    assert "Traceback" not in done.stderr
    done = _oneie("progress", "50")
    assert done.returncode == 2 and "not inside a oneie run" in done.stderr


def test_emit_checks_its_arguments_before_anything_else() -> None:
    done = _oneie("emit", "SchemaReady")
    assert done.returncode == 2 and "snake_case" in done.stderr
    done = _oneie("emit", "schema_ready", "--json", "{not json")
    assert done.returncode == 2 and "--json is not valid JSON" in done.stderr
    done = _oneie("emit", "schema_ready", "--json", "[1, 2]")
    assert done.returncode == 2 and "JSON object" in done.stderr
    done = _oneie("progress", "140")
    assert done.returncode == 2 and "between 0 and 100" in done.stderr


def test_emit_after_the_run_ended_says_the_run_is_gone(tmp_path: Path) -> None:
    env = {ENV_CONTROL: str(tmp_path / "gone.sock"), ENV_TOKEN: "t", "ONEIE_RUN_ID": "r1"}
    done = _oneie("emit", "schema_ready", env=env)
    assert done.returncode == 2
    assert "run r1 is not live any more" in done.stderr


def test_a_wrong_token_is_refused_inside_a_live_run(tmp_path: Path) -> None:
    body = script(
        tmp_path,
        "forge.py",
        """
        import os, subprocess
        env = dict(os.environ, ONEIE_AGENT_TOKEN="forged")
        done = subprocess.run(["oneie", "emit", "schema_ready"], env=env, capture_output=True, text=True)
        print("rc", done.returncode, done.stderr.strip())
        """,
    )
    spec = loaded([{"id": "forger", "emits": ["schema_ready"], "command": {"argv": [PY, body]}}])
    _, events = run_spec(spec, tmp_path)
    line = outputs(events, "forger")[0]
    assert line.startswith("rc 1 ") and "unknown agent token" in line
    assert of_type(events, "task_event", "forger") == [] or all(
        e.action == "task_failed" for e in of_type(events, "task_event", "forger")
    )


def test_socket_is_private_and_removed_at_the_end(tmp_path: Path) -> None:
    seen: dict[str, Any] = {}
    body = script(
        tmp_path,
        "look.py",
        """
        import os, sys, time
        print(os.environ["ONEIE_CONTROL"], flush=True)
        # Stay alive until the test has looked, so the run cannot end first.
        deadline = time.monotonic() + 30
        while not os.path.exists(sys.argv[1]) and time.monotonic() < deadline:
            time.sleep(0.01)
        """,
    )
    looked = tmp_path / "looked"
    spec = loaded([{"id": "looker", "command": {"argv": [PY, body, str(looked)]}}])

    async def look(runner: Runner) -> None:
        async def grab() -> None:
            while not outputs_seen:
                await anyio.sleep(0.01)
            path = Path(outputs_seen[0])
            seen["dir_mode"] = stat.S_IMODE(path.parent.stat().st_mode)
            seen["sock_mode"] = stat.S_IMODE(path.stat().st_mode)
            looked.touch()

        outputs_seen: list[str] = []
        runner.bus.subscribe(lambda e: outputs_seen.append(e.metadata["text"]), "agent_output")
        await grab()

    _, events = run_spec(spec, tmp_path, controller=look)
    path = Path(outputs(events, "looker")[0])
    assert seen["dir_mode"] == 0o700
    assert seen["sock_mode"] == 0o600
    assert not path.exists() and not path.parent.exists()


def _ctx(agent_id: str) -> Any:
    emitted: list[tuple[str, dict[str, Any]]] = []

    def emit(action: str, metadata: dict[str, Any]) -> Any:
        emitted.append((action, metadata))
        return SimpleNamespace(seq=len(emitted))

    return SimpleNamespace(agent_id=agent_id, run_id="r", emit=emit, emitted=emitted,
                           undeclared=lambda action: None,
                           progress=lambda p, n="": emitted.append(("progress", {"p": p, "n": n})))


def test_tokens_stop_working_when_their_attempt_ends() -> None:
    channel = ControlChannel()
    try:
        ctx = _ctx("a")
        token = channel.env_for(ctx)[ENV_TOKEN]
        state = SimpleNamespace(ctx=ctx, terminal=False)
        channel._runner = SimpleNamespace(agents={"a": state})  # type: ignore[assignment]
        assert channel.handle({"op": "emit", "token": token, "action": "schema_ready"})["ok"]
        assert channel.handle({"op": "emit", "token": token, "action": "Bad"})["ok"] is False
        assert channel.handle({"op": "emit", "token": token, "action": "x_y", "metadata": [1]})["ok"] is False
        assert channel.handle({"op": "progress", "token": token, "percent": 101})["ok"] is False
        assert channel.handle({"op": "nope", "token": token})["ok"] is False
        assert channel.handle(["not", "a", "dict"])["ok"] is False
        state.ctx = None  # the attempt ended
        answer = channel.handle({"op": "emit", "token": token, "action": "schema_ready"})
        assert answer == {"ok": False, "error": "agent a is not running any more"}
        assert [a for a, _ in ctx.emitted] == ["schema_ready"]
    finally:
        channel.close()


def test_garbage_on_the_socket_gets_an_error_and_the_server_keeps_serving() -> None:
    channel = ControlChannel()
    ctx = _ctx("a")
    token = channel.env_for(ctx)[ENV_TOKEN]
    runner = SimpleNamespace(agents={"a": SimpleNamespace(ctx=ctx, terminal=False)})
    answers: list[dict[str, Any]] = []

    def talk(payload: bytes) -> dict[str, Any]:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(10)
            assert channel.path is not None
            s.connect(str(channel.path))
            s.sendall(payload)
            data = b""
            while not data.endswith(b"\n"):
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        return dict(json.loads(data))

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(channel.serve, runner)
            answers.append(await anyio.to_thread.run_sync(talk, b"this is not json\n"))
            req = json.dumps({"op": "emit", "token": token, "action": "schema_ready"}).encode() + b"\n"
            answers.append(await anyio.to_thread.run_sync(talk, req))
            tg.cancel_scope.cancel()

    anyio.run(main)
    assert answers[0] == {"ok": False, "error": "request is not valid JSON"}
    assert answers[1] == {"ok": True, "seq": 1}
    assert channel.dir is None  # removed when the service ended
