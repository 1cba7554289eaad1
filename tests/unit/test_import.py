"""`oneie export --format jsonl` → `oneie import` into another store: same run, same events,
same metrics; bad files give one line naming the file and line, exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from oneie_tui.cli import main
from oneie_tui.store.sqlite import RunStore
from oneie_tui.views.metrics import compute
from oneie_tui.views.replay_clock import Replay
from tests.history_support import SPECS, record_run


def exported(tmp_path: Path, spec: str = "workflow") -> tuple[Path, str, Path]:
    source = tmp_path / "a.sqlite3"
    run_id, _ = record_run(source, spec)
    out = tmp_path / "run.jsonl"
    assert main(["export", run_id, "--format", "jsonl", "-o", str(out), "--store", str(source)]) == 0
    return source, run_id, out


def test_round_trip_keeps_events_metrics_and_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, run_id, out = exported(tmp_path)
    target = tmp_path / "b.sqlite3"
    assert main(["import", str(out), "--store", str(target)]) == 0
    assert f"imported run {run_id}" in capsys.readouterr().out
    a, b = RunStore(source), RunStore(target)
    before, after = list(a.events(run_id)), list(b.events(run_id))
    assert [e.to_dict() for e in after] == [e.to_dict() for e in before]
    assert compute(after).to_dict() == compute(before).to_dict()
    ra, rb = a.get_run(run_id), b.get_run(run_id)
    for field in ("spec_name", "spec_path", "spec_text", "started", "ended", "status", "summary"):
        assert getattr(rb, field) == getattr(ra, field), field
    # ...and it replays to the same end state
    end_a, end_b = Replay(a, run_id), Replay(b, run_id)
    end_a.to_end()
    end_b.to_end()
    assert {k: v.comparable() for k, v in end_b.view.agents.items()} == {
        k: v.comparable() for k, v in end_a.view.agents.items()
    }
    assert end_b.view.agents["agent-backend"].role == "backend"  # the spec travelled too
    # exporting the imported run gives the same file
    again = tmp_path / "again.jsonl"
    assert main(["export", run_id, "-o", str(again), "--store", str(target)]) == 0
    assert again.read_text() == out.read_text()


def test_first_line_describes_the_run_the_rest_are_raw_events(tmp_path: Path) -> None:
    source, run_id, out = exported(tmp_path, "course-crud")
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines[0]["record"] == "run" and lines[0]["id"] == run_id
    assert "[feature]" in lines[0]["spec_text"]
    events = [e.to_dict() for e in RunStore(source).events(run_id)]
    assert lines[1:] == events


def test_import_the_ndjson_of_a_headless_run(tmp_path: Path) -> None:
    store = tmp_path / "a.sqlite3"
    ndjson = subprocess.run(
        [sys.executable, "-m", "oneie_tui", "run", str(SPECS / "course-crud.toml"), "--json",
         "--speed", "20", "--store", str(store)],
        capture_output=True, text=True, check=True,
    ).stdout
    path = tmp_path / "run.ndjson"
    path.write_text(ndjson)
    summary = json.loads(ndjson.splitlines()[-1])
    target = tmp_path / "b.sqlite3"
    assert main(["import", str(path), "--as", "shared-1", "--store", str(target)]) == 0
    b = RunStore(target)
    row = b.get_run("shared-1")
    assert row.status == "completed" and row.spec_name == "Course CRUD"
    events = list(b.events("shared-1"))
    assert row.summary == events[-1].metadata  # the run_finished summary
    assert {e.run_id for e in events} == {"shared-1"}
    assert len(events) == len(ndjson.splitlines()) - 1
    # the closing summary line is computed a moment after run_finished
    assert compute(events).speedup == pytest.approx(summary["speedup"], abs=0.02)


def bad_file(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def ev(seq: int, run: str = "r1", **extra: object) -> str:
    return json.dumps({"seq": seq, "run_id": run, "ts": 1000.0 + seq, "type": "agent_output",
                       "actor": "a", "metadata": {"text": "x"}, **extra})


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([ev(1), "{not json"], "bad.jsonl:2: not JSON"),
        ([ev(1), ev(3)], "bad.jsonl:2: seq 3 follows 1"),
        ([ev(1), ev(2, run="other")], "bad.jsonl:2: event of run other"),
        ([ev(1), json.dumps({"run_id": "r1", "type": "x"})], "bad.jsonl:2: not an event (missing 'seq')"),
        ([ev(1), json.dumps({"record": "run", "id": "r1"})], "bad.jsonl:2: the run record must be the first line"),
        (["[1, 2]"], "bad.jsonl:1: expected a JSON object"),
        ([""], "bad.jsonl: no events"),
    ],
)
def test_bad_files_are_refused_with_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], lines: list[str], message: str
) -> None:
    path = bad_file(tmp_path, lines)
    assert main(["import", str(path), "--store", str(tmp_path / "s.sqlite3")]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert RunStore(tmp_path / "s.sqlite3").list_runs() == []  # nothing half-imported


def test_missing_file_and_duplicate_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["import", str(tmp_path / "nope.jsonl")]) == 2
    assert "nope.jsonl: cannot read" in capsys.readouterr().err
    source, run_id, out = exported(tmp_path, "course-crud")
    assert main(["import", str(out), "--store", str(source)]) == 1
    assert f"run {run_id} is already in" in capsys.readouterr().err
    assert RunStore(source).count_events(run_id) == len(out.read_text().splitlines()) - 1


def test_an_unfinished_run_imports_as_interrupted(tmp_path: Path) -> None:
    path = bad_file(tmp_path, [ev(1), ev(2)])
    assert main(["import", str(path), "--store", str(tmp_path / "s.sqlite3")]) == 0
    row = RunStore(tmp_path / "s.sqlite3").get_run("r1")
    assert row.status == "interrupted" and row.ended is None
