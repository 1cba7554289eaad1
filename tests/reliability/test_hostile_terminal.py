"""Hostile agent output never steers the terminal (issue 11, item 1).

An agent prints OSC 52 (write the clipboard), title sets, clear-screen, cursor moves and
raw BS/SO/NUL/DEL/C1 bytes. The real dashboard (`oneie tui --run`) and `oneie replay`
run on a pty, and the bytes they write are checked: none of the agent's sequences gets
through, and each shows as visible text (`^[`), so the test also proves the line was drawn.
Headless output (progress printer, failure reasons, summary) is checked the same way.
"""

from __future__ import annotations

import fcntl
import os
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Each hostile sequence sits between two markers, so "the raw bytes reached the terminal"
# is a plain substring test on what the app wrote (markers make it unambiguous: the app
# itself uses ESC sequences all the time, never between our markers).
HOSTILE = {  # the last ones are the panel's visible tail
    "title": "T1\x1b]0;PWNED-TITLE\x07T2",
    "title2": "U1\x1b]2;PWNED\x1b\\U2",
    "c1": "Q1\u009b31mQ2",
    "clear": "C1\x1b[2J\x1b[HC2",
    "raw": "R1\x08\x0e\x00\x7fR2",
    "osc52": "K1\x1b]52;c;SE9TVElMRQ==\x07K2",
}
AGENT = """
import sys
lines = {lines!r}
for name, text in lines.items():
    print(text, flush=True)
print("F1\\x1b[31mFAIL\\x1b]52;c;QQ==\\x07F2", file=sys.stderr, flush=True)
print("HOSTILE-END", flush=True)
sys.exit(3)
"""


def _spec(tmp_path: Path) -> Path:
    agent = tmp_path / "hostile.py"
    agent.write_text(AGENT.format(lines=HOSTILE))
    spec = tmp_path / "hostile.toml"
    spec.write_text(
        '[feature]\nname = "hostile N1\\u001b]0;SPEC-TITLE\\u0007N2"\n[run]\non_failure = "continue"\n'
        f'[[agents]]\nid = "agent-hostile"\nbackend = "command"\n'
        f"command = {{ argv = [{sys.executable!r}, {str(agent)!r}] }}\n"
    )
    return spec


def _env() -> dict[str, str]:
    env = {**os.environ, "TERM": "xterm-256color", "PYTHONPATH": str(ROOT), "COLUMNS": "160", "LINES": "50"}
    env.pop("TEXTUAL", None)
    return env


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


def _on_pty(args: list[str], cwd: Path, ready: bytes) -> bytes:
    """Run `python -m oneie_tui ARGS` on a pty until `ready` is drawn, then quit it (q)."""
    pid, fd = os.forkpty()
    if pid == 0:
        try:
            os.chdir(cwd)
            os.execve(sys.executable, [sys.executable, "-m", "oneie_tui", *args], _env())
        finally:
            os._exit(127)
    try:
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 160, 0, 0))
        out = _read_all(fd, time.monotonic() + 60, stop=lambda o: ready in o)
        assert ready in out, out[-3000:]
        out += _read_all(fd, time.monotonic() + 1.0)  # the rest of the frame
        os.write(fd, b"q")
        out += _read_all(fd, time.monotonic() + 20)
        os.waitpid(pid, 0)
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.close(fd)
    return out


def _assert_defused(out: bytes, names: list[str]) -> None:
    for name in names:
        raw = HOSTILE[name].encode()
        assert raw not in out, f"{name}: the agent's bytes reached the terminal"
    assert b"\x1b]52;c;SE9" not in out and b"\x1b]0;PWNED" not in out and b"\x1b]2;PWNED" not in out
    assert b"\x1b]0;SPEC-TITLE" not in out  # the spec's name is shared text too


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux ptys")
def test_dashboard_and_replay_on_a_pty_never_pass_agent_escapes(tmp_path: Path, isolated_dirs: Path) -> None:
    spec = _spec(tmp_path)
    db = tmp_path / "runs.sqlite3"
    live = _on_pty(["tui", str(spec), "--run", "--store", str(db)], tmp_path, b"HOSTILE-END")
    _assert_defused(live, list(HOSTILE))
    # Drawn, as visible escapes: the panel shows the line, defused.
    assert b"K1^[]52;c;SE9TVElMRQ==^GK2" in live, live[-3000:]
    assert b"C1^[[2J^[[HC2" in live and b"R1^H^N^@^?R2" in live

    replay = _on_pty(["replay", "last", "--speed", "instant", "--store", str(db)], tmp_path, b"HOSTILE-END")
    _assert_defused(replay, list(HOSTILE))
    assert b"K1^[]52;c;SE9TVElMRQ==^GK2" in replay


def test_headless_progress_reasons_and_summary_never_pass_agent_escapes(tmp_path: Path, isolated_dirs: Path) -> None:
    spec = _spec(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "oneie_tui", "run", str(spec), "--headless", "--store", str(tmp_path / "r.sqlite3")],
        env=_env(), capture_output=True, timeout=60, check=False,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 1, out[-2000:]
    # The failure reason carries the agent's last stderr line: shown, defused.
    assert b"F1^[[31mFAIL^[]52;c;QQ==^GF2" in out, out[-2000:]
    assert b"\x1b]52" not in out and b"\x1b]0;SPEC-TITLE" not in out
    for table in (b"\x00", b"\x07", b"\x08", b"\x0e", b"\x7f", "\u009b".encode()):
        assert table not in out
