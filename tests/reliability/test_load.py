"""100 sim agents with no parallel limit, about 1,000 events each: every event reaches the
store and seq is gap-free (issue 7, item 13; the TUI's responsiveness under this load is
measured in benchmarks/, not here)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.reliability.helpers import oneie, streaming_spec


def test_hundred_agents_thousand_events_each_all_stored(tmp_path: Path) -> None:
    spec = streaming_spec(
        tmp_path / "load.toml", agents=100, duration=1.0, lines_per_second=1000,
        extra_run="max_parallel = 0",
    )
    db = tmp_path / "runs.sqlite3"
    result = oneie("run", str(spec), "--headless", "--json", "--store", str(db), timeout=120)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    summary = json.loads(lines[-1])
    assert summary["status"] == "completed"
    streamed = [json.loads(line) for line in lines[:-1]]
    outputs = [e for e in streamed if e["type"] == "agent_output"]
    assert len(outputs) >= 100 * 1000 * 0.99  # each agent streamed ~1,000 lines

    conn = sqlite3.connect(db)
    seqs = [r[0] for r in conn.execute("SELECT seq FROM events WHERE run_id=? ORDER BY seq", (summary["run_id"],))]
    conn.close()
    assert len(seqs) == len(streamed) >= 100_000
    assert seqs == list(range(1, len(seqs) + 1))
