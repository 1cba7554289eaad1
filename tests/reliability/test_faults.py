"""Faults inside the tool: a store write failure and a bug in the runner itself stop the
run cleanly with one clear line; nothing committed before is lost (issue 7, items 3 and 5)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from oneie_tui.engine.runner import RunnerError
from oneie_tui.engine.session import RunOptions, build_runner
from oneie_tui.spec.loader import load_spec
from oneie_tui.store.sqlite import EventWriter, RunStore
from tests.reliability.helpers import no_traceback, streaming_spec

ROOT = Path(__file__).resolve().parents[2]

DISK_FULL = (
    "import sqlite3\n"
    "from oneie_tui.store.sqlite import EventWriter\n"
    "_commit = EventWriter._commit\n"
    "calls = {'n': 0}\n"
    "def failing(self, conn, batch):\n"
    "    calls['n'] += 1\n"
    "    if calls['n'] > 3:\n"
    "        raise sqlite3.OperationalError('database or disk is full')\n"
    "    return _commit(self, conn, batch)\n"
    "EventWriter._commit = failing\n"
)

RUNNER_BUG = (
    "from oneie_tui.engine.runner import Runner\n"
    "_mark = Runner._mark_dead_events\n"
    "def buggy(self):\n"
    "    if any(s.status == 'completed' for s in self.agents.values()):\n"
    "        raise ZeroDivisionError('injected bug in the runner')\n"
    "    return _mark(self)\n"
    "Runner._mark_dead_events = buggy\n"
)


def _run_cli_with(patch: str, args: list[str]) -> subprocess.CompletedProcess[str]:
    code = patch + f"import sys\nfrom oneie_tui.cli import main\nsys.exit(main({args!r}))\n"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


def test_store_write_failure_stops_the_run_cleanly(tmp_path: Path) -> None:
    spec = streaming_spec(tmp_path / "s.toml", agents=8, duration=2.0, lines_per_second=400)
    db = tmp_path / "runs.sqlite3"
    result = _run_cli_with(DISK_FULL, ["run", str(spec), "--headless", "--store", str(db), "--speed", "2"])
    assert result.returncode == 1
    assert no_traceback(result.stderr + result.stdout)
    errors = [ln for ln in result.stderr.splitlines() if "error" in ln.lower()]
    assert len(errors) == 1 and "disk is full" in errors[0], result.stderr

    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    (run_id, status, summary) = conn.execute("SELECT id, status, summary FROM runs").fetchone()
    seqs = [r[0] for r in conn.execute("SELECT seq FROM events WHERE run_id=? ORDER BY seq", (run_id,))]
    conn.close()
    assert status == "failed"
    assert "disk is full" in json.loads(summary)["reason"]
    assert seqs and seqs == list(range(1, len(seqs) + 1))  # the committed prefix is whole


def test_store_failure_in_process_cancels_every_agent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = streaming_spec(tmp_path / "s.toml", agents=4, duration=1.0, lines_per_second=300)
    store = RunStore(tmp_path / "runs.sqlite3")
    original = EventWriter._commit
    calls = {"n": 0}

    def failing(self: EventWriter, conn: sqlite3.Connection, batch: list) -> None:  # type: ignore[type-arg]
        calls["n"] += 1
        if calls["n"] > 2:
            raise sqlite3.OperationalError("disk I/O error")
        original(self, conn, batch)

    monkeypatch.setattr(EventWriter, "_commit", failing)
    runner = build_runner(load_spec(spec), RunOptions(speed=1), store)
    with pytest.raises(RunnerError, match="disk I/O error"):
        anyio.run(runner.run)
    assert all(s.status == "cancelled" for s in runner.agents.values())
    assert store.get_run(runner.run_id).status == "failed"


def test_runner_bug_cancels_agents_and_records_run_failed(tmp_path: Path) -> None:
    db = tmp_path / "runs.sqlite3"
    result = _run_cli_with(
        RUNNER_BUG, ["run", str(ROOT / "specs/workflow.toml"), "--headless", "--json", "--store", str(db), "--speed", "8"]
    )
    assert result.returncode == 1
    assert no_traceback(result.stderr + result.stdout)
    err_lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(err_lines) == 1 and "injected bug in the runner" in err_lines[0]
    events = [json.loads(ln) for ln in result.stdout.splitlines() if ln.startswith("{")]
    failed = [e for e in events if e["type"] == "run_failed"]
    assert failed and "injected bug" in failed[0]["metadata"]["reason"]
    # Every agent that had started ends terminal; nothing is left running.
    last = {}
    for e in events:
        if e["type"].startswith("agent_"):
            last[e["actor"]] = e["type"]
    assert last and all(t in ("agent_completed", "agent_cancelled", "agent_failed", "agent_blocked") for t in last.values()), last
    conn = sqlite3.connect(db)
    (status,) = conn.execute("SELECT status FROM runs").fetchone()
    conn.close()
    assert status == "failed"
