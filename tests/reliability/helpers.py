"""Shared bits for the reliability tests: spawning the real CLI and reading the store."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

PYTHON = sys.executable


def oneie(*args: str, env: dict[str, str] | None = None, timeout: float = 60.0,
          cwd: str | Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real `oneie` CLI in a subprocess."""
    return subprocess.run(
        [PYTHON, "-m", "oneie_tui", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )


def spawn_oneie(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [PYTHON, "-m", "oneie_tui", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
        start_new_session=True,
    )


def streaming_spec(path: Path, agents: int = 8, duration: float = 3.0, lines_per_second: float = 200.0,
                   extra_run: str = "") -> Path:
    parts = [
        '[feature]\nname = "Streaming squad"\n',
        f"[run]\nbackend = \"sim\"\n{extra_run}\n",
    ]
    for i in range(agents):
        parts.append(
            f'[[agents]]\nid = "agent-{i}"\nrole = "backend"\ntask = "stream"\n'
            f'emits = ["part{i}_ready"]\n'
            f"sim = {{ duration = {duration}, lines_per_second = {lines_per_second} }}\n"
        )
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


def read_events_raw(db: Path, run_id: str) -> list[tuple[int, str, str]]:
    """(seq, type, metadata JSON text) straight from SQLite, bypassing our reader."""
    conn = sqlite3.connect(db)
    try:
        return list(
            conn.execute(
                "SELECT seq, type, metadata FROM events WHERE run_id=? ORDER BY seq", (run_id,)
            )
        )
    finally:
        conn.close()


def no_traceback(text: str) -> bool:
    return "Traceback (most recent call last)" not in text


# A command agent that streams and spawns a child which streams too (issue 7, items 2, 4, 12).
# argv: pid_file duration [stubborn]; "stubborn" makes the child ignore SIGTERM.
STREAMER = r"""
import os, signal, subprocess, sys, time
from pathlib import Path
pid_file, duration = Path(sys.argv[1]), float(sys.argv[2])
stubborn = len(sys.argv) > 3 and sys.argv[3] == "stubborn"
child_code = (
    "import signal, sys, time\n"
    + ("signal.signal(signal.SIGTERM, signal.SIG_IGN)\n" if stubborn else "")
    + "end = time.monotonic() + float(sys.argv[1])\n"
    + "n = 0\n"
    + "while time.monotonic() < end:\n"
    + "    n += 1\n"
    + "    print(f'child line {n}', flush=True)\n"
    + "    time.sleep(0.02)\n"
)
child = subprocess.Popen([sys.executable, "-c", child_code, str(duration)])
pid_file.write_text(f"{os.getpid()} {child.pid}")
print(f"pids {os.getpid()} {child.pid}", flush=True)
end = time.monotonic() + duration
n = 0
while time.monotonic() < end:
    n += 1
    print(f"line {n}", flush=True)
    time.sleep(0.02)
child.wait()
print("done", flush=True)
"""


def write_streamer(folder: Path) -> Path:
    path = folder / "streamer.py"
    path.write_text(STREAMER, encoding="utf-8")
    return path


def read_pids(pid_file: Path) -> list[int]:
    """The (leader, child) pids a STREAMER wrote, or [] before it wrote them."""
    try:
        text = pid_file.read_text()
    except OSError:
        return []
    parts = text.split()
    return [int(p) for p in parts] if len(parts) == 2 else []
