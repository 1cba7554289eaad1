"""Pictures of the dashboard's states. Deterministic: recorded events with fixed
timestamps, a fixed clock, no cursor blink, fixed terminal sizes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.pilot import Pilot

from tests.tui.scenario import crud_halfway, crud_paused, failure_cascade

WIDE = (160, 44)


def feed(script_events: Any, *, focus: bool = True) -> Callable[[Pilot[Any]], Any]:
    async def run_before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        await pilot.pause()
        app.apply_events(script_events)
        # Wait for the frame timer to show the last event (a loaded machine runs it late).
        for _ in range(400):
            if app.dashboard.displayed_seq == script_events[-1].seq:
                break
            await pilot.pause(0.02)
        if focus:
            app.dashboard.grid.focus_first()
        await pilot.pause()

    return run_before


def test_idle_with_spec(snap_compare: Any, make_app: Any) -> None:
    assert snap_compare(make_app(), terminal_size=WIDE)


def test_run_halfway(snap_compare: Any, make_app: Any) -> None:
    assert snap_compare(make_app(), terminal_size=WIDE, run_before=feed(crud_halfway().events))


def test_paused_agent(snap_compare: Any, make_app: Any) -> None:
    events = crud_paused().events
    assert snap_compare(make_app(), terminal_size=WIDE, run_before=feed(events))


def test_failure_cascade(snap_compare: Any, make_app: Any) -> None:
    events = failure_cascade().events
    assert snap_compare(make_app("failure-cascade.toml"), terminal_size=WIDE, run_before=feed(events))


def test_zoomed_agent(snap_compare: Any, make_app: Any) -> None:
    assert snap_compare(
        make_app(), terminal_size=WIDE, run_before=feed(crud_halfway().events), press=["enter"]
    )


def test_editor_validation_error(snap_compare: Any, make_app: Any) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        editor = pilot.app.dashboard.editor
        text = editor.text.replace('after = ["schema_ready"]', 'after = ["schema_readyy"]')
        text = editor.text.replace('emits = ["frontend_ready"]', 'emits = ["frontend_ready"]\nafter = ["schema_redy"]')
        editor.text_area.load_text(text)
        editor.text_area.focus()
        editor.validate_now()
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=WIDE, run_before=run_before)


def test_small_terminal_80x24(snap_compare: Any, make_app: Any) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await feed(crud_halfway().events, focus=False)(pilot)
        pilot.app.dashboard.show_editor(False)
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=run_before)


def test_light_theme(snap_compare: Any, make_app: Any) -> None:
    assert snap_compare(
        make_app(theme="light"), terminal_size=WIDE, run_before=feed(crud_halfway().events)
    )


def test_thirty_agents_at_200x60(snap_compare: Any, make_app: Any, tmp_path: Any) -> None:
    lines = ["[feature]", 'name = "Thirty agents"', "", "[run]", 'backend = "sim"', ""]
    for i in range(30):
        lines += ["[[agents]]", f'id = "agent-{i:02d}"', f'role = "worker {i}"', ""]
    spec = tmp_path / "thirty.toml"
    spec.write_text("\n".join(lines), encoding="utf-8")
    assert snap_compare(make_app(spec), terminal_size=(200, 60))


def test_message_input(snap_compare: Any, make_app: Any) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await feed(crud_halfway().events)(pilot)
        await pilot.press("m", *"use UUID keys")
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=WIDE, run_before=run_before)
