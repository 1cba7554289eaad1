"""While a run writes, other processes list runs and read the live run: both see a
consistent prefix and neither blocks the writer (issue 7, item 6)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from oneie_tui.store.sqlite import RunStore
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


TIGHT_READER = r"""
import json, sys
from oneie_tui.store.sqlite import RunStore
store = RunStore(sys.argv[1])
run_id = sys.argv[2]
reads, holes, longest, last = 0, 0, 0, 0
while True:
    status = store.get_run(run_id).status
    seqs = [e.seq for e in store.events(run_id)]
    reads += 1
    if seqs != list(range(1, len(seqs) + 1)):
        holes += 1
    if len(seqs) < last:
        holes += 1  # a read went backwards
    last = len(seqs)
    if status != "running":
        break
print(json.dumps({"reads": reads, "holes": holes, "last": last}))
"""


def test_a_tight_reader_process_never_sees_a_hole(tmp_path: Path) -> None:
    """A second process reads the live run's events back to back, as fast as it can, for
    the whole run: every read is a gap-free prefix, never shorter than the one before."""
    spec = streaming_spec(tmp_path / "s.toml", agents=8, duration=2.0, lines_per_second=400)
    db = tmp_path / "runs.sqlite3"
    proc = spawn_oneie("run", str(spec), "--headless", "--json", "--store", str(db))
    assert proc.stdout is not None
    run_id = json.loads(proc.stdout.readline())["run_id"]
    threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()  # type: ignore[union-attr]
    import subprocess
    import sys

    reader = subprocess.run([sys.executable, "-c", TIGHT_READER, str(db), run_id],
                            capture_output=True, text=True, timeout=60)
    proc.wait(timeout=60)
    assert reader.returncode == 0, reader.stderr
    result = json.loads(reader.stdout)
    assert result["reads"] >= 5, result  # it really read while the run was live
    assert result["holes"] == 0, result
    assert proc.returncode == 0
    store = RunStore(db)
    assert store.get_run(run_id).status == "completed"
    assert store.last_seq(run_id) == store.count_events(run_id) >= result["last"]
