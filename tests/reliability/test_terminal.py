"""The terminal (issue 7, item 12).

- An exception inside one agent marks that agent failed and the app stays up; the other
  agents go on (an unexpected exception here; tests/tui/test_dashboard_pilot.py::
  test_agent_failure_marks_it_failed_and_the_app_stays_up covers a backend's own failure).
- App logs go to a file, never to the screen.
- SIGTERM or SIGHUP to `oneie tui SPEC --run` in a real pty restores the terminal (the
  alternate screen is left, every mouse mode turned on is turned off, the cursor is shown),
  the run is recorded `interrupted`, and no process of an agent survives the app.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import select
import signal
import sqlite3
import struct
import sys
import termios
import time
from pathlib import Path
from typing import Any

import pytest

from oneie_tui import paths
from tests.fakes.process_tools import alive
from tests.reliability.helpers import read_pids, write_streamer

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.anyio
async def test_an_exception_inside_one_agent_fails_it_and_the_app_stays_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from oneie_tui.agents import sim
    from oneie_tui.engine.session import RunOptions
    from oneie_tui.ui.app import OneieApp

    original = sim.SimBackend.run

    async def raising(self: Any, ctx: Any) -> Any:
        if ctx.agent_id == "agent-1":
            await ctx.checkpoint()
            raise ZeroDivisionError("injected: division by zero inside agent-1")
        return await original(self, ctx)

    monkeypatch.setattr(sim.SimBackend, "run", raising)
    spec = tmp_path / "spec.toml"
    spec.write_text(
        '[feature]\nname = "one agent raises"\n[run]\non_failure = "continue"\n'
        + "".join(f'[[agents]]\nid = "agent-{i}"\nsim = {{ duration = 0.5 }}\n' for i in range(3))
    )
    app = OneieApp(spec, store_path=tmp_path / "runs.sqlite3", run_on_start=True,
                   options=RunOptions(speed=4), cursor_blink=False)
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(400):
            await pilot.pause(0.05)
            if app.live is not None and not app.running and app.live.runner.status != "pending":
                break
        runner = app.live.runner  # type: ignore[union-attr]
        assert runner.agents["agent-1"].status == "failed"
        assert "ZeroDivisionError" in runner.agents["agent-1"].reason
        assert [runner.agents[a].status for a in ("agent-0", "agent-2")] == ["completed", "completed"]
        for _ in range(400):  # the dashboard folds the last events on its next frame
            if app.dashboard.view.agents["agent-1"].status == "failed":  # type: ignore[union-attr]
                break
            await pilot.pause(0.02)
        assert app.dashboard.view.agents["agent-1"].status == "failed"  # type: ignore[union-attr]
        assert app.is_running
        await pilot.press("t")  # still taking keys
        assert app.is_running


@pytest.mark.anyio
async def test_app_logs_go_to_a_file_never_to_the_screen(tmp_path: Path) -> None:
    from oneie_tui.ui.app import OneieApp

    app = OneieApp(None, store_path=tmp_path / "runs.sqlite3", cursor_blink=False)
    marker = "reliability-log-marker-7f3a"
    async with app.run_test(size=(120, 40)) as pilot:
        logging.getLogger("oneie.tui").error("%s error", marker)
        logging.getLogger("oneie.tui").warning("%s warning", marker)
        await pilot.pause(0.2)
        svg = app.export_screenshot()
    assert marker not in svg
    assert app.log_file is not None and app.log_file.is_relative_to(paths.log_dir())
    text = app.log_file.read_text()
    assert f"{marker} error" in text and f"{marker} warning" in text
    # No handler of ours writes to a terminal stream.
    for name in ("", "oneie", "oneie.tui"):
        for handler in logging.getLogger(name).handlers:
            stream = getattr(handler, "stream", None)
            assert stream not in (sys.stderr, sys.stdout, sys.__stderr__, sys.__stdout__), (name, handler)


# --- a real pty ------------------------------------------------------------------------

MOUSE_MODES = ("1000", "1002", "1003", "1005", "1006", "1015", "1016")


def _read_all(fd: int, until: float, stop: Any = None) -> bytes:
    out = b""
    while time.monotonic() < until:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if not ready:
            if stop is not None and stop(out):
                return out
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the child closed the pty
            break
        if not chunk:
            break
        out += chunk
        if stop is not None and stop(out):
            return out
    return out


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc and ptys")
@pytest.mark.parametrize(
    "signum",
    [signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2],
    ids=["SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"],  # the last three: issue 12
)
def test_signal_to_the_app_in_a_pty_restores_the_terminal(
    tmp_path: Path, isolated_dirs: Path, signum: int
) -> None:
    streamer = write_streamer(tmp_path)
    pid_file = tmp_path / "cmd.pids"
    spec = tmp_path / "slow.toml"
    spec.write_text(
        '[feature]\nname = "slow squad"\n[run]\nbackend = "sim"\n'
        '[[agents]]\nid = "agent-slow"\nsim = { duration = 60, lines_per_second = 5 }\n'
        '[[agents]]\nid = "agent-also-slow"\nsim = { duration = 60, lines_per_second = 5 }\n'
        f'[[agents]]\nid = "agent-cmd"\nbackend = "command"\n'
        f"command = {{ argv = [{sys.executable!r}, {str(streamer)!r}, {str(pid_file)!r}, '60'] }}\n"
    )
    db = tmp_path / "runs.sqlite3"
    env = {**os.environ, "TERM": "xterm-256color", "PYTHONPATH": str(ROOT), "COLUMNS": "120", "LINES": "40"}
    env.pop("TEXTUAL", None)
    pid, fd = os.forkpty()
    if pid == 0:  # the child: the app, on the pty
        try:
            os.chdir(tmp_path)
            os.execve(sys.executable, [sys.executable, "-m", "oneie_tui", "tui", str(spec), "--run",
                                       "--store", str(db)], env)
        finally:
            os._exit(127)
    try:
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        # Wait until it has drawn the agents and every process of the command agent runs.
        drawn = _read_all(fd, time.monotonic() + 60,
                          stop=lambda out: b"agent-also-slow" in out and len(read_pids(pid_file)) == 2)
        assert b"\x1b[?1049h" in drawn, drawn[-2000:]
        pids = read_pids(pid_file)
        assert len(alive(pids)) == 2
        time.sleep(0.5)  # let it run a little
        os.kill(pid, signum)
        rest = _read_all(fd, time.monotonic() + 30)
        _, status = os.waitpid(pid, 0)
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.close(fd)
    output = drawn + rest
    assert os.WIFEXITED(status), f"the app died of signal {os.WTERMSIG(status) if os.WIFSIGNALED(status) else '?'}"
    assert os.WEXITSTATUS(status) == 130  # interrupted, as a headless run would say
    # The terminal is restored: the alternate screen left after it was last entered, every
    # mouse mode turned on is turned off again, and the cursor shown.
    assert output.rfind(b"\x1b[?1049l") > output.rfind(b"\x1b[?1049h"), rest[-500:]
    for mode in MOUSE_MODES:
        on = output.rfind(f"\x1b[?{mode}h".encode())
        if on >= 0:
            assert output.rfind(f"\x1b[?{mode}l".encode()) > on, f"mouse mode {mode} left on"
    assert re.search(rb"\x1b\[\?1000h", output), "the app had turned mouse reporting on"
    assert output.rfind(b"\x1b[?25h") > output.rfind(b"\x1b[?25l")
    # Logs went to the file, not to the pty.
    log_text = (paths.log_dir() / "tui.log").read_text()
    assert "started" in log_text
    assert b"oneie.tui" not in output and b" INFO " not in output
    # The run is recorded interrupted (so `oneie resume` can continue it) ...
    conn = sqlite3.connect(db)
    (run_id, run_status) = conn.execute("SELECT id, status FROM runs").fetchone()
    ends = [json.loads(m) for (m,) in conn.execute(
        "SELECT metadata FROM events WHERE run_id=? AND type='agent_cancelled'", (run_id,))]
    conn.close()
    assert run_status == "interrupted"
    assert len(ends) == 3 and all(m.get("interrupted") for m in ends)
    # ... and no process of an agent survived the app.
    assert alive(pids) == []


@pytest.mark.parametrize("switch", ["--debug", "ONEIE_LOG_LEVEL=DEBUG"])
def test_cli_debug_logging_goes_to_a_file_never_to_the_terminal(
    tmp_path: Path, isolated_dirs: Path, switch: str
) -> None:
    import subprocess

    spec = tmp_path / "spec.toml"
    spec.write_text('[feature]\nname = "debug"\n[[agents]]\nid = "a"\nsim = { duration = 0.2 }\n')
    env = {k: v for k, v in os.environ.items() if k not in ("ONEIE_LOG_LEVEL", "ANTHROPIC_LOG")}
    env["PYTHONPATH"] = str(ROOT)
    args = ["run", str(spec), "--headless", "--json", "--store", str(tmp_path / "runs.sqlite3")]
    if switch == "--debug":
        args.insert(0, "--debug")
    else:
        env["ONEIE_LOG_LEVEL"] = "DEBUG"
    done = subprocess.run([sys.executable, "-m", "oneie_tui", *args], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    log = paths.log_dir() / "oneie.log"
    assert " DEBUG " in log.read_text()  # e.g. asyncio's "Using selector" record
    assert " DEBUG " not in done.stderr + done.stdout and done.stderr == ""
    assert oct(log.stat().st_mode & 0o777) == oct(0o600)
