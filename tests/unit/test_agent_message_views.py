"""What the user said to agents, as every view shows it: the timeline (live and replay,
one fold), `oneie show`, and the report. The text is data: redacted when recorded,
shown through `display`, never markup."""

from __future__ import annotations

import io
import json
from pathlib import Path

import anyio
import pytest

from oneie_tui.agents.sim import SimBackend
from oneie_tui.cli import main
from oneie_tui.engine.runner import Runner
from oneie_tui.events import EventType
from oneie_tui.store.sqlite import RunStore
from oneie_tui.ui.widgets.timeline import describe
from oneie_tui.views.report import store_pages, write_markdown
from oneie_tui.views.run_view import RunView, initial_view
from tests.unit.test_runner_kit import agent_toml, spec_of

KEY = "sk-ant-api03-" + "B" * 40
SAID = f"use [red]UUIDs[/red] | key {KEY}"


def _recorded(tmp_path: Path) -> tuple[RunStore, str]:
    spec = spec_of(agent_toml("a", extra="[agents.sim]\nduration = 0.3") + agent_toml("b", extra="[agents.sim]\nduration = 0.05"))
    store = RunStore(tmp_path / "runs.sqlite3")
    sim = SimBackend()
    runner = Runner(spec, lambda _a: sim, store=store, run_id="r-talk")

    async def main_() -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(runner.run)
            while runner.agents["a"].status != "running" or runner.agents["b"].status != "completed":
                await anyio.sleep(0.01)
            assert runner.send_message("a", SAID) is None
            assert runner.send_message("b", "and a footer") is None

    anyio.run(main_)
    return store, runner.run_id


def test_the_timeline_shows_messages_as_text(tmp_path: Path) -> None:
    store, run_id = _recorded(tmp_path)
    try:
        view = initial_view(store.get_run(run_id))
        view.apply_all(list(store.events(run_id)))
    finally:
        store.close()
    shown = [describe(e) for e in view.timeline if e.type == EventType.AGENT_MESSAGE]
    assert len(shown) == 2
    assert shown[0].startswith("✉ message: use [red]UUIDs[/red] | key ") and KEY not in shown[0]
    assert shown[1] == "↪ follow-up: and a footer"
    assert isinstance(view, RunView)


def test_oneie_show_and_the_report_list_the_messages(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store, run_id = _recorded(tmp_path)
    try:
        out = io.StringIO()
        write_markdown(out, store.get_run(run_id), store_pages(store, run_id, page=7))
    finally:
        store.close()
    md = out.getvalue()
    part = md[md.index("## Messages to agents"):]
    part = part[: part.index("\n## ")]
    rows = [line for line in part.splitlines() if line.startswith("| +")]
    assert len(rows) == 2
    assert "| a | live | 1 | use [red]UUIDs[/red] \\| key " in rows[0] and KEY not in md
    assert "| b | follow-up | 2 | and a footer |" in rows[1]

    db = str(tmp_path / "runs.sqlite3")
    assert main(["show", run_id, "--store", db]) == 0
    text = capsys.readouterr().out
    assert "✉ a ← message (attempt 1): use [red]UUIDs[/red]" in text and KEY not in text
    assert "✉ b ← follow-up (attempt 2): and a footer" in text
    assert main(["show", run_id, "--store", db, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [m["metadata"]["delivery"] for m in data["messages"]] == ["live", "followup"]


def test_the_headless_progress_prints_a_message_line() -> None:
    from rich.console import Console

    from oneie_tui.commands.headless import ProgressSink
    from oneie_tui.events import Event

    runner = Runner(spec_of(agent_toml("a")), lambda _a: SimBackend())
    out = io.StringIO()
    sink = ProgressSink(runner, Console(file=out, width=120, color_system=None))
    sink(Event(1, runner.run_id, 1.0, EventType.AGENT_MESSAGE, "a",
               metadata={"text": "use [bold]x[/bold]\nnow", "attempt": 1, "delivery": "live"}))
    assert "✉ a ← message: use [bold]x[/bold] now" in out.getvalue()
