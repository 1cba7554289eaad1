"""The Markdown report: metrics table in the reference's shape, agents, events in order."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from oneie_tui.cli import main
from oneie_tui.events import Event
from oneie_tui.store.sqlite import RunStore
from oneie_tui.views.metrics import compute
from oneie_tui.views.report import store_pages, write_markdown
from tests.history_support import record_run

REFERENCE_HEADER = (
    "| Feature | Sequential Time | Parallel Time | Speedup | Utilization | Tokens | Cost |"
)


def report_of(store: RunStore, run_id: str) -> str:
    out = io.StringIO()
    write_markdown(out, store.get_run(run_id), store_pages(store, run_id, page=7))
    return out.getvalue()


def section(md: str, title: str) -> str:
    start = md.index(f"## {title}")
    end = md.find("\n## ", start + 1)
    return md[start : end if end != -1 else None]


def test_metrics_table_has_the_reference_shape_and_the_run_figures(tmp_path: Path) -> None:
    run_id, _ = record_run(tmp_path / "runs.sqlite3", "workflow")
    store = RunStore(tmp_path / "runs.sqlite3")
    md = report_of(store, run_id)
    metrics = compute(list(store.events(run_id)), now=store.get_run(run_id).ended)
    table = section(md, "Performance metrics").splitlines()
    i = table.index(REFERENCE_HEADER)
    assert table[i + 1] == "|---|---|---|---|---|---|---|"
    cells = [c.strip() for c in table[i + 2].strip("|").split("|")]
    assert cells == [
        "Payment workflow",
        f"{metrics.sequential_s:.2f}s",
        f"{metrics.wall_s:.2f}s",
        f"{metrics.speedup:.2f}x",
        f"{metrics.utilization * 100:.0f}%",
        "0",
        "$0.0000",
    ]
    assert metrics.speedup > 1.5  # the picture is of a parallel run
    assert "agent-backend → agent-frontend → agent-quality" in md
    assert "# Run report: Payment workflow" in md and f"`{run_id}` | completed" in md


def test_each_agent_has_its_status_and_result(tmp_path: Path) -> None:
    run_id, live = record_run(tmp_path / "runs.sqlite3", "failure-cascade")
    store = RunStore(tmp_path / "runs.sqlite3")
    md = report_of(store, run_id)
    agents = section(md, "Agents")
    for agent_id, a in live.agents.items():
        row = next(line for line in agents.splitlines() if line.startswith(f"| {agent_id} |"))
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[2] == a.status
        result = a.summary if a.status == "completed" else a.reason
        assert cells[-1] == (result or "—").replace("|", "\\|")
        assert f"### {agent_id} — {a.status}" in agents
    assert any(a.status == "failed" for a in live.agents.values())
    assert "cascade:" in agents  # the cancelled agents say why


def test_events_are_all_listed_in_time_order(tmp_path: Path) -> None:
    run_id, _ = record_run(tmp_path / "runs.sqlite3", "course-crud")
    store = RunStore(tmp_path / "runs.sqlite3")
    events = list(store.events(run_id))
    md = report_of(store, run_id)
    rows = [
        line for line in section(md, "Events").splitlines()
        if re.match(r"^\| \+\d", line)
    ]
    assert len(rows) == len(events)
    times = [float(r.split("|")[1].strip()[1:-1]) for r in rows]
    seqs = [int(r.split("|")[2]) for r in rows]
    assert seqs == [e.seq for e in events]
    assert times == sorted(times)
    assert [r.split("|")[4].strip() for r in rows] == [e.type for e in events]
    coordination = section(md, "Coordination events")
    for e in events:
        if e.type == "task_event":
            assert f"| {e.actor} | {e.action} |" in coordination


def test_cells_are_escaped(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "runs.sqlite3")
    store.create_run("r-esc", "Pipes | and <b>", "", None, 1000.0)
    store.insert_events([
        Event(1, "r-esc", 1000.0, "run_started", metadata={"agents": ["a"]}),
        Event(2, "r-esc", 1000.5, "agent_output", "a", metadata={"text": "x | y\n<script>"}),
    ])
    md = report_of(store, "r-esc")
    assert "x \\| y &lt;script&gt;" in md
    assert "# Run report: Pipes \\| and &lt;b&gt;" in md


def test_export_md_and_jsonl_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "runs.sqlite3"
    run_id, _ = record_run(path, "course-crud")
    assert main(["export", run_id[:10], "--format", "md", "--store", str(path)]) == 0
    assert REFERENCE_HEADER in capsys.readouterr().out
    out_file = tmp_path / "r.md"
    assert main(["export", "last", "--format", "md", "-o", str(out_file), "--store", str(path)]) == 0
    assert out_file.read_text().startswith("# Run report: Course CRUD")
    assert main(["export", "nope", "--format", "md", "--store", str(path)]) == 1
    assert "no run 'nope'" in capsys.readouterr().err
    assert main(["show", "last", "--gantt", "--width", "80", "--store", str(path)]) == 0
    assert "critical path" in capsys.readouterr().out
