"""SIGTERM (or SIGHUP) to a headless run records it `interrupted`, not cancelled, and
`oneie resume` runs the agents it cut off again in the same run (issue 7 item 12 for the
headless path; issue 4 resume)."""

from __future__ import annotations

import json
import signal
import sqlite3
import threading
from pathlib import Path

import pytest

from tests.reliability.helpers import oneie, spawn_oneie

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_signalled_headless_run_is_interrupted_and_resumes(tmp_path: Path, signum: int) -> None:
    db = tmp_path / "runs.sqlite3"
    proc = spawn_oneie("run", str(ROOT / "specs/workflow.toml"), "--headless", "--json", "--store", str(db))
    assert proc.stdout is not None
    lines: list[str] = []
    seen_fire = threading.Event()

    def read() -> None:
        for line in proc.stdout:  # type: ignore[union-attr]
            lines.append(line)
            if '"schema_ready"' in line:
                seen_fire.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert seen_fire.wait(30), "the backend fired schema_ready"
    proc.send_signal(signum)
    proc.wait(timeout=30)
    reader.join(timeout=10)
    assert proc.returncode == 130
    summary = json.loads(lines[-1])
    run_id = summary["run_id"]
    assert summary["status"] == "interrupted"
    cut_off = [a["id"] for a in summary["agents"] if a["status"] != "completed"]
    assert cut_off, "the signal came mid-run"

    resumed = oneie("resume", run_id, "--json", "--store", str(db), timeout=60)
    assert resumed.returncode == 0, resumed.stderr
    later = [json.loads(line) for line in resumed.stdout.splitlines()]
    assert later[-1]["status"] == "completed" and later[-1]["run_id"] == run_id
    relaunched = {e["actor"] for e in later[:-1] if e["type"] == "agent_started"}
    assert relaunched == set(cut_off)  # every agent cut off runs again, no finished one does
    conn = sqlite3.connect(db)
    seqs = [r[0] for r in conn.execute("SELECT seq FROM events WHERE run_id=? ORDER BY seq", (run_id,))]
    conn.close()
    assert seqs == list(range(1, len(seqs) + 1))
    # schema_ready had fired before the signal; it fires again only from a new attempt of
    # its emitter (the backend is cut off too: it runs 2 s and fires at 0.5 s).
    fired = [e for e in later[:-1] if e["type"] == "task_event" and e["metadata"].get("action") == "schema_ready"]
    assert len(fired) == (1 if "agent-backend" in cut_off else 0)
