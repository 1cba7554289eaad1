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
