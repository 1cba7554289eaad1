"""Every command on both engines (`store_target`: SQLite, then a real PostgreSQL server):
run, runs, show, export, import, resume from the command line; tui, history and replay
through the dashboard app with the store chosen the way the commands choose it."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from oneie_tui.cli import main
from oneie_tui.engine.session import RunOptions
from oneie_tui.store.open import open_store
from oneie_tui.ui.app import OneieApp
from oneie_tui.ui.screens.history import HistoryScreen
from oneie_tui.ui.screens.replay import ReplayScreen
from tests.history_support import SPECS
from tests.reliability.helpers import spawn_oneie, streaming_spec
from tests.tui.waiting import wait_until


def _json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_run_runs_show_export_import(store_target: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(SPECS / "workflow.toml"), "--json", "--speed", "20"]) == 0
    summary = _json_lines(capsys.readouterr().out)[-1]
    run_id = summary["run_id"]
    assert main(["runs", "--json"]) == 0
    (listed,) = _json_lines(capsys.readouterr().out)
    assert (listed["id"], listed["status"]) == (run_id, "completed")
    assert main(["show", run_id[:12], "--json"]) == 0
    shown = _json_lines(capsys.readouterr().out)[0]
    assert shown["metrics"]["wall_s"] == pytest.approx(summary["wall_s"])
    assert shown["events"] == open_store(store_target).count_events(run_id)
    assert main(["show", "last", "--gantt", "--width", "100"]) == 0
    assert "agent-integration" in capsys.readouterr().out
    out = tmp_path / "run.jsonl"
    assert main(["export", run_id, "-o", str(out)]) == 0
    assert main(["export", run_id, "--format", "md", "-o", str(tmp_path / "run.md")]) == 0
    assert "# " in (tmp_path / "run.md").read_text(encoding="utf-8")
    assert main(["import", str(out)]) == 1  # the same id is refused
    assert "already in" in capsys.readouterr().err
    assert main(["import", str(out), "--as", "copy-1"]) == 0
    store = open_store(store_target)
    original = [e.to_dict() | {"run_id": ""} for e in store.events(run_id)]
    assert [e.to_dict() | {"run_id": ""} for e in store.events("copy-1")] == original
    assert store.get_run("copy-1").summary == store.get_run(run_id).summary


def test_a_killed_run_reads_interrupted_and_resumes(store_target: str, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    spec = streaming_spec(tmp_path / "squad.toml", agents=4, duration=3.0, lines_per_second=100)
    proc = spawn_oneie("run", str(spec), "--headless", "--json", env={"ONEIE_STORE": store_target})
    assert proc.stdout is not None
    run_id = str(json.loads(proc.stdout.readline())["run_id"])
    threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()  # type: ignore[union-attr]
    time.sleep(0.8)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    store = open_store(store_target)
    assert store.get_run(run_id).status == "interrupted"
    before = store.last_seq(run_id)
    assert main(["resume", run_id, "--json"]) == 0
    capsys.readouterr()
    row = store.get_run(run_id)
    assert row.status == "completed"
    seqs = [e.seq for e in store.events(run_id)]
    assert seqs == list(range(1, len(seqs) + 1)) and seqs[-1] > before


def _app(store_target: str, factory: Any = None, **kw: Any) -> OneieApp:
    return OneieApp(None, store_path=store_target, initial_screen_factory=factory, cursor_blink=False, **kw)


@pytest.mark.anyio
async def test_tui_runs_into_the_store_and_history_replays_it(store_target: str) -> None:
    app = OneieApp(SPECS / "course-crud.toml", store_path=store_target, run_on_start=True,
                   options=RunOptions(speed=20), cursor_blink=False)
    async with app.run_test(size=(160, 44)) as pilot:
        await wait_until(pilot, lambda: app.live is not None and not app.running)
    (row,) = open_store(store_target).list_runs()
    assert row.status == "completed"

    store = open_store(store_target)  # as `oneie history` opens it
    app = _app(store_target, lambda: HistoryScreen(store), store=store)
    async with app.run_test(size=(160, 44)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, HistoryScreen) and app.screen.all_rows)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ReplayScreen))
        screen = app.screen
        assert isinstance(screen, ReplayScreen) and screen.run_id == row.id
        await pilot.press("end")
        await wait_until(pilot, lambda: screen.replay.at_end)
        assert set(screen.grid.panels) == {a["id"] for a in row.summary["agents"]}


def test_tui_replay_and_history_commands_hand_the_app_the_store_as_given(
    store_target: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A URL must reach the app unfolded (a Path would turn `//` into `/`)."""
    seen: list[str] = []

    def fake_run(self: OneieApp, *a: Any, **kw: Any) -> int:
        store = self.store
        assert store is not None
        seen.append(str(store.path))
        return 0

    monkeypatch.setattr(OneieApp, "run", fake_run)
    monkeypatch.delenv("ONEIE_STORE")
    expected = str(open_store(store_target).path)
    assert main(["tui", str(SPECS / "course-crud.toml"), "--store", store_target]) == 0
    assert main(["history", "--store", store_target]) == 0
    assert seen == [expected, expected]
