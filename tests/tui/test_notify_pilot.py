"""Notices from the dashboard: the app writes the bell and OSC through the terminal writer
it was given (a recording double here, the driver otherwise), once per run-level change."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from oneie_tui.config import UserConfig
from oneie_tui.engine.session import RunOptions
from oneie_tui.events import EventType
from tests.tui.test_dashboard_pilot import long_spec
from tests.tui.waiting import wait_until

pytestmark = pytest.mark.anyio
OSC9 = re.compile(r"\x1b\]9;([^\x07\x1b]*)\x07")
WEZTERM = {"TERM_PROGRAM": "WezTerm", "PATH": ""}  # OSC 9; no notify-send to find


def osc_texts(written: list[str]) -> list[str]:
    return OSC9.findall("".join(written))


async def test_a_run_that_ends_is_exactly_one_notice(make_app: Any) -> None:
    written: list[str] = []
    app = make_app(
        run_on_start=True, clock=None, options=RunOptions(speed=40), config=UserConfig(),
        terminal_write=written.append, notify_env=WEZTERM,
    )
    async with app.run_test(size=(160, 44)) as pilot:
        await wait_until(pilot, lambda: app.live is not None and app.live.runner.status == "completed")
        await wait_until(pilot, lambda: osc_texts(written))
        await pilot.pause(1.2)  # polls go on (0.5 s): nothing else is sent after the end
        run_id = app.live.runner.run_id
    (text,) = osc_texts(written)
    assert text.startswith("oneie: run completed: Course CRUD")
    assert run_id in text
    assert "".join(written).count("\a") == 2  # the bell, and the OSC's own terminator
    assert [n.kind for n in app.notifier.sent] == ["finished"]  # waits between agents: no stall


async def test_repeated_attention_is_one_notice_and_the_end_names_who_needs_you(
    make_app: Any, tmp_path: Path
) -> None:
    written: list[str] = []
    app = make_app(
        long_spec(tmp_path), run_on_start=True, clock=None,
        # no quiet period: only de-duplication stands between a repeated denial and a notice
        config=UserConfig(notify={"quiet_seconds": 0, "bell": False}),
        terminal_write=written.append, notify_env=WEZTERM,
    )
    async with app.run_test(size=(160, 44)) as pilot:
        await wait_until(pilot, lambda: app.live is not None and app.live.runner.agents["alpha"].status == "running")
        runner = app.live.runner
        for _ in range(4):  # the CLI repeats its denial on every retry of the tool
            runner.publish(EventType.AGENT_ATTENTION, "alpha", metadata={"reason": "permission_denied", "tools": ["Write"]})
            await pilot.pause(0.05)
        await wait_until(pilot, lambda: len(osc_texts(written)) == 1)  # gathered for 1 s, then sent
        await pilot.pause(1.2)  # the repeats are never sent, however long we wait
        assert len(osc_texts(written)) == 1
        runner.publish(EventType.AGENT_ATTENTION, "beta", metadata={"reason": "question", "text": "which db?"})
        await wait_until(pilot, lambda: len(osc_texts(written)) == 2)
        await pilot.pause(1.2)
        where = f" (run {runner.run_id})"
        assert osc_texts(written) == [
            "oneie: alpha needs you: tools denied: Write" + where,
            "oneie: beta needs you: asks: which db?" + where,
        ]
        await pilot.press("C", "y")  # cancel the run (the confirm)
        await wait_until(pilot, lambda: not app.running)
        await wait_until(pilot, lambda: len(osc_texts(written)) == 3)
        await pilot.pause(1.2)
    end = osc_texts(written)[-1]
    assert end.startswith("oneie: run cancelled (0 of 3 done, 4 denied)")  # every denial counts
    assert "2 need you: alpha, beta" in end
    assert [n.kind for n in app.notifier.sent] == ["attention", "attention", "finished"]
    assert "".join(written).count("\a") == 3  # bell = false: only the OSC terminators


async def test_a_spec_that_turns_notices_off_sends_none(make_app: Any, tmp_path: Path) -> None:
    spec = tmp_path / "quiet.toml"
    spec.write_text(long_spec(tmp_path).read_text(encoding="utf-8") + '\n[notify]\nenabled = false\n', encoding="utf-8")
    written: list[str] = []
    app = make_app(spec, run_on_start=True, clock=None, config=UserConfig(notify={"bell": True}),
                   terminal_write=written.append, notify_env=WEZTERM)
    async with app.run_test(size=(160, 44)) as pilot:
        await wait_until(pilot, lambda: app.live is not None and app.live.runner.agents["alpha"].status == "running")
        app.live.runner.publish(EventType.AGENT_ATTENTION, "alpha", metadata={"reason": "question"})
        await pilot.press("C", "y")
        await wait_until(pilot, lambda: not app.running)
        await pilot.pause(0.6)
    assert written == []
