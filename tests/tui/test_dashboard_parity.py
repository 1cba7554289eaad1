"""A run from the dashboard writes the same store records as a headless run."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from oneie_tui.engine.session import RunOptions, build_runner
from oneie_tui.spec.loader import load_spec
from oneie_tui.store.sqlite import RunStore
from tests.tui.conftest import SPECS
from tests.tui.waiting import wait_until

pytestmark = pytest.mark.anyio


def shape(store: RunStore, run_id: str) -> tuple[dict[str, Any], Counter[tuple[str, str, str]]]:
    row = store.get_run(run_id)
    events = list(store.events(run_id))
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    record = {
        "spec_name": row.spec_name,
        "spec_text": row.spec_text,
        "spec_path": row.spec_path,
        "status": row.status,
        "agents": sorted((a["id"], a["status"], a["attempts"]) for a in row.summary["agents"]),
    }
    return record, Counter((e.type, e.actor, e.action) for e in events)


async def test_dashboard_run_matches_headless_run(make_app: Any, tmp_path: Path) -> None:
    spec = SPECS / "course-crud.toml"
    options = RunOptions(speed=20)
    store = RunStore(tmp_path / "runs.sqlite3")
    headless = build_runner(load_spec(spec), options, store)
    await headless.run()

    app = make_app(spec, run_on_start=True, clock=None, options=RunOptions(speed=20))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.live is not None and app.live.runner.status == "completed" and not app.running)
        live_id = app.live.runner.run_id

    a_record, a_events = shape(store, headless.run_id)
    b_record, b_events = shape(store, live_id)
    assert a_record == b_record
    assert a_events == b_events
    assert a_record["status"] == "completed"
    store.close()
