"""kill -9 mid-run, 30 seeds: the store opens, every committed event reads back intact
with seq gap-free, and the run lists as interrupted (issue 7, item 1)."""

from __future__ import annotations

import json
import os
import random
import signal
import threading
import sqlite3
import time
from pathlib import Path

import pytest

from oneie_tui.store import RunStore
from tests.reliability.helpers import oneie, read_events_raw, spawn_oneie, streaming_spec

SEEDS = list(range(30))


def _kill_run(spec: Path, db: Path, seed: int) -> str:
    """Start a headless run, kill -9 it at a random moment, return its run id."""
    rng = random.Random(seed)
    proc = spawn_oneie("run", str(spec), "--headless", "--json", "--store", str(db), "--seed", str(seed))
    assert proc.stdout is not None
    first = proc.stdout.readline()  # run_started: the run exists and is writing
    run_id = json.loads(first)["run_id"]
    # Keep the pipe drained so the run streams freely until the kill.
    threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()  # type: ignore[union-attr]
    time.sleep(rng.uniform(0.05, 1.2))
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    return run_id


@pytest.mark.parametrize("seed", SEEDS)
def test_kill9_loses_nothing_committed(tmp_path: Path, seed: int) -> None:
    spec = streaming_spec(tmp_path / "squad.toml", agents=8, duration=2.0, lines_per_second=300)
    db = tmp_path / "runs.sqlite3"
    run_id = _kill_run(spec, db, seed)

    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    conn.close()

    rows = read_events_raw(db, run_id)
    assert rows, "the run had started writing before the kill"
    seqs = [r[0] for r in rows]
    assert seqs == list(range(1, len(seqs) + 1)), "seq must be gap-free up to the last commit"
    for _, _, meta in rows:
        json.loads(meta)  # every committed row is intact

    store = RunStore(db)
    row = store.get_run(run_id)
    assert row.status == "interrupted"
    assert [r.status for r in store.list_runs(status="interrupted")] == ["interrupted"]
    listing = oneie("runs", "--json", "--store", str(db))
    assert json.loads(listing.stdout.splitlines()[0])["status"] == "interrupted"
