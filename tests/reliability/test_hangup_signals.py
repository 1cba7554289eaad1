"""Hang-ups and signals (issue 12, item 4), with real ptys and real agent processes.

- Closing the pty's master side (the terminal window going away) during a live run: the
  dashboard, or a headless run, interrupts the run, ends every agent and exits within 5 s.
- SIGQUIT, SIGUSR1 and SIGUSR2 to the dashboard are handled like SIGTERM (see
  test_terminal.py, parametrized with them): terminal restored, run interrupted, agents
  ended. The same three to a headless run: exit 130, run interrupted, agents ended.
- SIGINT to the dashboard does what the README says of Ctrl-C: the run is recorded
  cancelled and the exit is 130.
"""

from __future__ import annotations

import fcntl
import os
import signal
import sqlite3
import struct
import sys
import termios
import time
from pathlib import Path

import pytest

from tests.fakes.process_tools import alive
from tests.reliability.helpers import read_pids, spawn_oneie, write_streamer
from tests.reliability.test_terminal import _read_all

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc and ptys")


def _spec(tmp_path: Path) -> tuple[Path, Path]:
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
    return spec, pid_file


def _start_in_pty(tmp_path: Path, argv: list[str]) -> tuple[int, int]:
    env = {**os.environ, "TERM": "xterm-256color", "PYTHONPATH": str(ROOT), "COLUMNS": "120", "LINES": "40"}
    env.pop("TEXTUAL", None)
    pid, fd = os.forkpty()
    if pid == 0:  # the child, on the pty (its controlling terminal)
        try:
            os.chdir(tmp_path)
            os.execve(sys.executable, [sys.executable, "-m", "oneie_tui", *argv], env)
        finally:
            os._exit(127)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    return pid, fd


def _wait_exit(pid: int, seconds: float, fd: int = -1) -> int | None:
    """The wait status, or None if the process still runs after `seconds`. Reads the
    pty meanwhile (`fd`), as a terminal would."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        if fd >= 0:
            _read_all(fd, time.monotonic() + 0.02)
        else:
            time.sleep(0.02)
    return None


def _run_status(db: Path) -> str:
    conn = sqlite3.connect(db)
    try:
        return str(conn.execute("SELECT status FROM runs").fetchone()[0])
    finally:
        conn.close()


@pytest.mark.parametrize("mode", ["dashboard", "headless"])
def test_a_pty_hang_up_ends_the_run_and_every_agent_within_5_s(
    tmp_path: Path, isolated_dirs: Path, mode: str
) -> None:
    spec, pid_file = _spec(tmp_path)
    db = tmp_path / "runs.sqlite3"
    argv = ["tui", str(spec), "--run"] if mode == "dashboard" else ["run", str(spec), "--headless"]
    pid, fd = _start_in_pty(tmp_path, [*argv, "--store", str(db)])
    status: int | None = None
    pids: list[int] = []
    try:
        _read_all(fd, time.monotonic() + 60,
                  stop=lambda out: b"agent-also-slow" in out and len(read_pids(pid_file)) == 2)
        pids = read_pids(pid_file)
        assert len(alive(pids)) == 2
        time.sleep(0.5)
        os.close(fd)  # the terminal goes away: the kernel hangs up the session
        fd = -1
        hung_up = time.monotonic()
        status = _wait_exit(pid, 5.0)
        took = time.monotonic() - hung_up
        assert status is not None, "still running 5 s after the hang-up"
        # Every agent process is gone by the time oneie has exited.
        assert alive(pids) == [], f"agents outlived oneie: {alive(pids)}"
    finally:
        if status is None:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        for p in alive(pids):
            os.kill(p, signal.SIGKILL)
        if fd >= 0:
            os.close(fd)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 130, status
    print(f"\nFIGURE {mode} hang-up to exit {took:.2f} s")
    assert took < 5.0
    # The clean path ran (not only the deadline): the run is recorded interrupted, resumable,
    # and the deadline did not have to fire.
    assert _run_status(db) == "interrupted"
    log = isolated_dirs / ".local/state/oneie/log" / ("tui.log" if mode == "dashboard" else "oneie.log")
    assert "exit deadline reached" not in (log.read_text() if log.exists() else "")


def test_sigint_to_the_dashboard_cancels_the_run_as_the_readme_says(
    tmp_path: Path, isolated_dirs: Path
) -> None:
    spec, pid_file = _spec(tmp_path)
    db = tmp_path / "runs.sqlite3"
    pid, fd = _start_in_pty(tmp_path, ["tui", str(spec), "--run", "--store", str(db)])
    status: int | None = None
    pids: list[int] = []
    try:
        _read_all(fd, time.monotonic() + 60,
                  stop=lambda out: b"agent-also-slow" in out and len(read_pids(pid_file)) == 2)
        pids = read_pids(pid_file)
        time.sleep(0.5)
        os.kill(pid, signal.SIGINT)
        rest = _read_all(fd, time.monotonic() + 5)
        status = _wait_exit(pid, 5.0, fd)
        assert status is not None, "still running 5 s after SIGINT"
    finally:
        if status is None:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(fd)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 130
    assert rest.rfind(b"\x1b[?1049l") >= 0  # the alternate screen was left
    assert _run_status(db) == "cancelled"  # README: 130, Ctrl-C, the run is recorded as cancelled
    assert alive(pids) == []


@pytest.mark.parametrize("signum", [signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2],
                         ids=["SIGQUIT", "SIGUSR1", "SIGUSR2"])
def test_quit_usr1_usr2_to_a_headless_run_are_handled_like_term(tmp_path: Path, signum: int) -> None:
    spec, pid_file = _spec(tmp_path)
    db = tmp_path / "runs.sqlite3"
    proc = spawn_oneie("run", str(spec), "--json", "--store", str(db))
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(read_pids(pid_file)) < 2:
            time.sleep(0.05)
        pids = read_pids(pid_file)
        assert len(alive(pids)) == 2
        proc.send_signal(signum)
        _out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err  # the old code died of the signal (-3, -10, -12)
    assert _run_status(db) == "interrupted"
    assert alive(pids) == []


@pytest.mark.parametrize("mode", ["dashboard", "headless"])
def test_the_exit_is_bounded_even_when_an_agent_would_take_30_s_to_stop(
    tmp_path: Path, isolated_dirs: Path, mode: str
) -> None:
    """The clean path waits for the agents; an agent whose child ignores SIGTERM with a
    30 s grace would hold it for 30 s. The deadline (4 s, a plain thread, not the loop)
    kills what is left and exits 130 anyway."""
    streamer = write_streamer(tmp_path)
    pid_file = tmp_path / "cmd.pids"
    spec = tmp_path / "stubborn.toml"
    spec.write_text(
        '[feature]\nname = "stubborn"\n[run]\nbackend = "command"\n'
        '[[agents]]\nid = "agent-stubborn"\n'
        f"command = {{ argv = [{sys.executable!r}, {str(streamer)!r}, {str(pid_file)!r}, '60', 'stubborn'],"
        " grace_seconds = 30 }\n"
    )
    db = tmp_path / "runs.sqlite3"
    argv = ["tui", str(spec), "--run"] if mode == "dashboard" else ["run", str(spec), "--headless"]
    pid, fd = _start_in_pty(tmp_path, [*argv, "--store", str(db)])
    status: int | None = None
    pids: list[int] = []
    try:
        _read_all(fd, time.monotonic() + 60, stop=lambda out: len(read_pids(pid_file)) == 2)
        pids = read_pids(pid_file)
        time.sleep(0.3)
        os.kill(pid, signal.SIGTERM)
        sent = time.monotonic()
        status = _wait_exit(pid, 6.0, fd)
        took = time.monotonic() - sent
        assert status is not None, "still running 6 s after SIGTERM"
        assert alive(pids) == [], f"agents outlived oneie: {alive(pids)}"
    finally:
        if status is None:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        for p in alive(pids):
            os.kill(p, signal.SIGKILL)
        os.close(fd)
    print(f"\nFIGURE {mode} stubborn agent, SIGTERM to exit {took:.2f} s")
    if mode == "dashboard":  # the deadline left a line in the app's log
        assert "exit deadline reached" in (isolated_dirs / ".local/state/oneie/log/tui.log").read_text()
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 130
    assert 3.5 < took < 5.0  # the deadline, not the 30 s grace
