"""The claude course-crud spec run from the dashboard against the scripted server: all
agents complete, the frontend starts after schema_ready, and the screen shows no key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from oneie_tui.agents.base import BackendOptions
from oneie_tui.engine.session import RunOptions
from oneie_tui.store.sqlite import RunStore
from tests.fakes.anthropic_server import ScriptedAnthropicServer
from tests.unit.test_claude_backend import ROOT, SECRET, api_key  # noqa: F401
from tests.unit.test_claude_redaction import course_crud_script

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_dashboard_runs_the_claude_spec(tmp_path: Path) -> None:
    from oneie_tui.ui.app import OneieApp

    store_path = tmp_path / "runs.sqlite3"
    with ScriptedAnthropicServer(course_crud_script()) as srv:  # type: ignore[arg-type]
        app = OneieApp(
            ROOT / "specs" / "claude-course-crud.toml",
            store_path=store_path,
            run_on_start=True,
            options=RunOptions(backend_options=BackendOptions(base_url=srv.base_url)),
            cursor_blink=False,
        )
        async with app.run_test(size=(160, 44)) as pilot:
            for _ in range(1000):  # a bound on rounds, not on time
                if app.live is not None and not app.running and app.live.runner.status != "pending":
                    break
                await pilot.pause(0.02)
            statuses = {a: s.status for a, s in app.live.runner.agents.items()}  # type: ignore[union-attr]
            run_id = app.live.runner.run_id  # type: ignore[union-attr]
            await pilot.pause(0.1)
            screen: Any = app.export_screenshot()
    assert statuses == dict.fromkeys(
        ["agent-backend", "agent-frontend", "agent-quality"], "completed"
    )
    assert SECRET not in screen
    store = RunStore(store_path)
    try:
        events = list(store.events(run_id))
    finally:
        store.close()
    seq = {(e.type, e.actor, e.action): e.seq for e in events}
    assert (
        seq[("agent_started", "agent-frontend", "")]
        > seq[("task_event", "agent-backend", "schema_ready")]
    )
