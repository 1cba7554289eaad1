"""kill -9 mid-run, 30 seeds: the store opens, every committed event reads back intact
with seq gap-free, and the run lists as interrupted (issue 7, item 1)."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from oneie_tui.store.sqlite import RunStore
from tests.reliability.helpers import oneie, read_events_raw, spawn_oneie, streaming_spec

SEEDS = list(range(30))


def _kill_run(spec: Path, db: Path, seed: int) -> str:
    """Start a headless run, kill -9 it at a random moment, return its run id."""
    rng = random.Random(seed)
    proc = spawn_oneie("run", str(spec), "--headless", "--json", "--store", str(db), "--seed", str(seed))
    assert proc.stdout is not None
    first = proc.stdout.readline()  # run_started: the run exists and is writing
    run_id = str(json.loads(first)["run_id"])
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


RESUME_SEEDS = [0, 8, 16, 24]


def _staggered_spec(path: Path) -> Path:
    """Eight streaming agents of different lengths (some end before the kill), the last one
    waiting for the first one's event."""
    parts = ['[feature]\nname = "Staggered squad"\n', '[run]\nbackend = "sim"\non_failure = "continue"\n']
    for i in range(8):
        after = 'after = ["part0_ready"]\n' if i == 7 else ""
        parts.append(
            f'[[agents]]\nid = "agent-{i}"\nrole = "backend"\ntask = "stream"\n{after}'
            f'emits = ["part{i}_ready"]\n'
            f"sim = {{ duration = {0.2 + 0.25 * i:.2f}, lines_per_second = 200 }}\n"
        )
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


@pytest.mark.parametrize("seed", RESUME_SEEDS)
def test_kill9_then_resume_completes_the_same_run(tmp_path: Path, seed: int) -> None:
    """`oneie resume RUN` after a kill -9: the same run id, seq gap-free across both lives,
    the committed prefix unchanged, agents that had completed are not run again, and the
    run ends completed (issue 7, item 1, with the history issue landed)."""
    spec = _staggered_spec(tmp_path / "squad.toml")
    db = tmp_path / "runs.sqlite3"
    run_id = _kill_run(spec, db, seed)
    before = read_events_raw(db, run_id)
    done_before = {
        actor for (actor,) in sqlite3.connect(db).execute(
            "SELECT actor FROM events WHERE run_id=? AND type='agent_completed'", (run_id,)
        )
    }

    result = oneie("resume", run_id, "--json", "--store", str(db), timeout=60)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.splitlines()[-1])
    assert summary["run_id"] == run_id and summary["status"] == "completed"

    after = read_events_raw(db, run_id)
    assert after[: len(before)] == before, "the committed prefix is kept as it was"
    seqs = [r[0] for r in after]
    assert seqs == list(range(1, len(seqs) + 1)), "seq continues gap-free in the same run"
    conn = sqlite3.connect(db)
    assert [r[0] for r in conn.execute("SELECT id FROM runs")] == [run_id]  # no new run
    resumed_at = conn.execute(
        "SELECT MAX(seq) FROM events WHERE run_id=? AND type='run_started'", (run_id,)
    ).fetchone()[0]
    started_again = {
        actor for (actor,) in conn.execute(
            "SELECT actor FROM events WHERE run_id=? AND type='agent_started' AND seq>?", (run_id, resumed_at)
        )
    }
    final = dict(conn.execute(
        "SELECT actor, type FROM events WHERE run_id=? AND type LIKE 'agent_%' AND type IN "
        "('agent_completed','agent_failed','agent_cancelled','agent_blocked') ORDER BY seq", (run_id,)
    ).fetchall())
    conn.close()
    assert resumed_at > len(before), "the resume recorded its own run_started"
    assert not (started_again & done_before), "completed agents are not run again"
    print(f"seed {seed}: completed before the kill {sorted(done_before)}; run again {sorted(started_again)}")
    assert started_again | done_before == {f"agent-{i}" for i in range(8)}
    assert set(final.values()) == {"agent_completed"}, final
    assert RunStore(db).get_run(run_id).status == "completed"
