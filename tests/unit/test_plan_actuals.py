"""After a run, the report and `oneie show` put the plan beside the actual figures."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from oneie_tui.cli import main
from oneie_tui.store.sqlite import RunStore
from oneie_tui.views.metrics import compute
from oneie_tui.views.plan_actuals import compare, run_settings
from oneie_tui.views.report import store_pages, write_markdown
from tests.history_support import record_run


def test_plan_and_run_agree_on_a_sim_run(tmp_path: Path) -> None:
    # The sim plays the spec exactly, so the plan (at the run's speed) predicts it.
    run_id, _ = record_run(tmp_path / "runs.sqlite3", "workflow", speed=20.0)
    store = RunStore(tmp_path / "runs.sqlite3")
    events = list(store.events(run_id))
    row = store.get_run(run_id)
    assert run_settings(events) == (20.0, 0)
    vs = compare(row.spec_text, compute(events, now=row.ended), *run_settings(events))
    assert vs is not None
    assert vs.planned_parallel_s == pytest.approx(3.5 / 20)
    assert vs.plan.sequential_s == pytest.approx(7.0 / 20)
    assert vs.planned_speedup == pytest.approx(2.0)
    assert vs.measured_speedup == pytest.approx(vs.planned_speedup, rel=0.15)
    for a in vs.agents:
        assert a.ratio == pytest.approx(1.0, rel=0.25), a


def test_report_has_the_plan_beside_the_actuals(tmp_path: Path) -> None:
    run_id, _ = record_run(tmp_path / "runs.sqlite3", "course-crud", speed=20.0)
    store = RunStore(tmp_path / "runs.sqlite3")
    out = io.StringIO()
    write_markdown(out, store.get_run(run_id), store_pages(store, run_id))
    md = out.getvalue()
    part = md[md.index("## Plan against actuals") : md.index("## Gantt")]
    assert "| Planned | 0.25s | 0.1s | 2.50x |" in part
    assert "| Measured |" in part
    assert "| agent-quality | 0.05s | +0s |" in part


def test_show_json_and_table_carry_the_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store_path = tmp_path / "runs.sqlite3"
    run_id, _ = record_run(store_path, "payment-squad", speed=20.0)
    assert main(["show", run_id, "--json", "--store", str(store_path)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["plan"]["planned_speedup"] == pytest.approx(3.5)
    assert [a["id"] for a in data["plan"]["agents"]][0] == "agent-backend"
    assert main(["show", run_id, "--store", str(store_path)]) == 0
    out = capsys.readouterr().out
    assert "plan against actuals" in out and "(3.50x)" in out


def test_a_stored_spec_that_no_longer_parses_gives_no_plan() -> None:
    assert compare("not toml [", compute([])) is None


def test_a_cycle_plan_run_is_counted_in_cycles(tmp_path: Path) -> None:
    run_id, _ = record_run(tmp_path / "runs.sqlite3", "cycle-plan", speed=20.0)
    store = RunStore(tmp_path / "runs.sqlite3")
    events = list(store.events(run_id))
    row = store.get_run(run_id)
    vs = compare(row.spec_text, compute(events, now=row.ended), *run_settings(events))
    assert vs is not None and vs.plan.cycles is not None
    assert vs.run_cycle_s == pytest.approx(0.2 / 20)
    assert vs.measured_cycles == pytest.approx(vs.plan.cycles.parallel, rel=0.25)  # 20 cycles
    out = io.StringIO()
    write_markdown(out, row, store_pages(store, run_id))
    md = out.getvalue()
    assert "10 cycles saved (33% faster)" in md
    axis = next(line for line in md.splitlines() if line.startswith("cycles "))
    assert axis.split()[1:3] == ["11", "16"]  # the run starts in cycle 11, ticks every 5
