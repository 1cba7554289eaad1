"""Regressions found in the end-of-session review: each test failed on the code before."""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from oneie_tui.agents.base import BackendOptions
from oneie_tui.commands.headless import run_headless
from oneie_tui.engine.resume import options_of
from oneie_tui.engine.session import RunOptions, build_runner
from oneie_tui.events import Event
from oneie_tui.spec.loader import load_spec
from oneie_tui.store.sqlite import RunStore

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / "specs" / "workflow.toml"


def test_a_closed_stdout_neither_crashes_the_run_nor_loses_an_event(tmp_path: Path) -> None:
    db = tmp_path / "runs.sqlite3"
    proc = subprocess.Popen(
        [sys.executable, "-m", "oneie_tui", "run", str(WORKFLOW), "--headless", "--speed", "2", "--store", str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()  # the reader goes away after one line, as `| head -1` does
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 0, err
    assert "Traceback" not in err
    conn = sqlite3.connect(db)
    (run_id, status) = conn.execute("SELECT id, status FROM runs").fetchone()
    seqs = [r[0] for r in conn.execute("SELECT seq FROM events WHERE run_id=? ORDER BY seq", (run_id,))]
    conn.close()
    assert status == "completed"
    assert seqs == list(range(1, len(seqs) + 1))


def test_a_store_error_at_run_start_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = RunStore(tmp_path / "runs.sqlite3")
    loaded = load_spec(WORKFLOW)
    first = build_runner(loaded, RunOptions(speed=20, run_id="same-id"), store)
    assert run_headless(first, as_json=True) == 0
    capsys.readouterr()
    again = build_runner(loaded, RunOptions(speed=20, run_id="same-id"), store)  # the id is taken
    assert run_headless(again, as_json=True) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot record the run" in err[0], err
    assert "ExceptionGroup" not in err[0]


def test_resume_keeps_the_spend_so_budgets_are_not_reset(tmp_path: Path) -> None:
    loaded = load_spec(WORKFLOW)
    runner = build_runner(loaded, RunOptions(run_id="r1"), None)
    usage = {"input_tokens": 100, "output_tokens": 50, "cache_write_tokens": 0, "cache_read_tokens": 0, "cost_usd": 0.25}
    events = [
        Event(1, "r1", 1.0, "run_started", metadata={"agents": [a.id for a in runner.spec.agents]}),
        Event(2, "r1", 1.1, "agent_queued", "agent-backend", metadata={"attempt": 1}),
        Event(3, "r1", 1.2, "agent_started", "agent-backend", metadata={"attempt": 1}),
        Event(4, "r1", 1.3, "usage", "agent-backend", metadata=usage),
        Event(5, "r1", 1.4, "usage", "agent-backend", metadata=usage),
    ]
    relaunch = runner.restore(events)
    assert "agent-backend" in relaunch
    spent = runner.agents["agent-backend"].usage
    assert (spent.total_tokens, round(spent.cost_usd, 6)) == (300, 0.5)


def test_a_run_records_what_its_resume_needs(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs.sqlite3")
    runner = build_runner(load_spec(WORKFLOW), RunOptions(speed=20, seed=7, backend_options=BackendOptions(project_dir=str(tmp_path))), store)
    anyio.run(runner.run)
    start = next(e for e in store.events(runner.run_id) if e.type == "run_started").metadata
    options = options_of(start, "sim", runner.run_id)
    assert options.seed == 7
    assert options.backend_options.project_dir == str(tmp_path.resolve())
    assert json.dumps(start)  # plain JSON in the store


def test_run_forwards_sequential_to_the_dashboard(monkeypatch: pytest.MonkeyPatch) -> None:
    import oneie_tui.cli as cli
    from oneie_tui.commands import run as run_command
    from oneie_tui.commands import tui as tui_command
    from oneie_tui.commands.run_options import options_from_args

    seen: list[tuple[bool, bool]] = []
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)

    def fake_dashboard(args: argparse.Namespace, *, run_now: bool, theme: str | None) -> int:
        seen.append((run_now, options_from_args(args).sequential))
        return 0

    monkeypatch.setattr(tui_command, "open_dashboard", fake_dashboard)
    assert run_command.cmd_run(cli.build_parser().parse_args(["run", str(WORKFLOW), "--sequential"])) == 0
    assert seen == [(True, True)]  # the dashboard runs at once, one agent at a time


def test_a_failed_last_flush_records_the_run_failed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from oneie_tui.engine.runner import RunnerError
    from oneie_tui.store.sqlite import EventWriter

    original = EventWriter._commit

    def fail_on_the_end(self: EventWriter, conn: sqlite3.Connection, batch: list[Event]) -> None:
        if any(e.type == "run_finished" for e in batch):
            raise sqlite3.OperationalError("disk I/O error")
        original(self, conn, batch)

    monkeypatch.setattr(EventWriter, "_commit", fail_on_the_end)
    store = RunStore(tmp_path / "runs.sqlite3")
    runner = build_runner(load_spec(WORKFLOW), RunOptions(speed=20), store)
    with pytest.raises(RunnerError, match="disk I/O error"):
        anyio.run(runner.run)
    row = store.get_run(runner.run_id)
    assert row.status == "failed"  # not "completed" with its last events missing
    assert "disk I/O error" in row.summary["reason"]
