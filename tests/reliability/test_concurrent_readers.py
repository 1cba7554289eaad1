"""While a run writes, other processes list runs and read the live run: both see a
consistent prefix and neither blocks the writer (issue 7, item 6)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from oneie_tui.store import RunStore
from tests.reliability.helpers import oneie, spawn_oneie, streaming_spec


def test_readers_see_consistent_prefixes_while_writer_runs(tmp_path: Path) -> None:
    spec = streaming_spec(tmp_path / "s.toml", agents=8, duration=2.5, lines_per_second=300)
    db = tmp_path / "runs.sqlite3"
    proc = spawn_oneie("run", str(spec), "--headless", "--json", "--store", str(db))
    assert proc.stdout is not None
    first = proc.stdout.readline()
    run_id = json.loads(first)["run_id"]
    streamed_lines = [first]
    # Drain stdout as it comes, so a full pipe never stalls the writer under test.
    drain = threading.Thread(target=lambda: streamed_lines.extend(proc.stdout), daemon=True)  # type: ignore[arg-type]
    drain.start()

    prefixes: list[int] = []
    statuses: list[str] = []
    while proc.poll() is None:
        listing = oneie("runs", "--json", "--store", str(db))
        assert listing.returncode == 0, listing.stderr
        statuses.append(json.loads(listing.stdout.splitlines()[0])["status"])
        export = oneie("export", run_id, "--store", str(db))
        assert export.returncode == 0, export.stderr
        records = [json.loads(line) for line in export.stdout.splitlines()]
        seqs = [r["seq"] for r in records if "seq" in r]
        assert seqs == list(range(1, len(seqs) + 1)), "a reader saw a hole"
        prefixes.append(len(seqs))
        time.sleep(0.05)
    drain.join(timeout=30)
    assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""

    assert len(prefixes) >= 2, "the readers ran while the run was live"
    assert prefixes == sorted(prefixes), "each read sees at least what the previous one saw"
    assert "running" in statuses
    store = RunStore(db)
    final = store.count_events(run_id)
    assert final >= prefixes[-1]
    assert store.last_seq(run_id) == final
    assert store.get_run(run_id).status == "completed"
    # The writer kept every event the runner produced (the NDJSON stream saw them all).
    streamed = [json.loads(line) for line in streamed_lines if line.startswith("{")]
    assert streamed[-1]["type"] == "summary"
    assert [e["seq"] for e in streamed[:-1]] == list(range(1, final + 1))
