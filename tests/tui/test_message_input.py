"""The dashboard's message input: `m` on a panel (or in the zoom) opens it, Enter sends,
and the runner records what was said; a refusal is a notification, a finished agent gets
a follow-up even after the run ended."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from oneie_tui.events import EventType
from oneie_tui.ui.screens.message_input import MessageInputScreen
from oneie_tui.ui.widgets import AgentPanel
from tests.tui.test_dashboard_pilot import long_spec, statuses
from tests.tui.waiting import wait_until

pytestmark = pytest.mark.anyio

QUICK_SPEC = """
[feature]
name = "Quick"

[run]
backend = "sim"

[[agents]]
id = "alpha"
role = "backend"
sim = { duration = 0.2 }
"""


def _messages(app: Any) -> list[dict[str, Any]]:
    runner = app.live.runner
    store = app.store
    return [
        {"actor": e.actor, **e.metadata}
        for e in store.events(runner.run_id) if e.type == EventType.AGENT_MESSAGE
    ]


async def test_m_types_enter_and_the_runner_records_the_message(make_app: Any, tmp_path: Path) -> None:
    app = make_app(long_spec(tmp_path), run_on_start=True, clock=None)
    seen: list[Any] = []
    async with app.run_test(size=(160, 44)) as pilot:
        await wait_until(pilot, lambda: app.live is not None and set(statuses(app).values()) == {"running"})
        app.live.runner.bus.subscribe(seen.append, EventType.AGENT_MESSAGE)
        await pilot.press("right")
        assert isinstance(app.focused, AgentPanel) and app.focused.agent_id == "beta"
        await pilot.press("m")
        await wait_until(pilot, lambda: isinstance(app.screen, MessageInputScreen))
        await pilot.press(*"[b]ok", "enter")  # typed keys; brackets stay text
        await wait_until(pilot, lambda: bool(seen))
        assert app.screen is app.dashboard
        (event,) = seen
        assert (event.actor, event.metadata["text"], event.metadata["delivery"]) == ("beta", "[b]ok", "live")
        await wait_until(pilot, lambda: any(
            line == "message received: [b]ok" for line in app.dashboard.view.agents["beta"].output))
        # Escape sends nothing.
        await pilot.press("m")
        await wait_until(pilot, lambda: isinstance(app.screen, MessageInputScreen))
        await pilot.press(*"no", "escape")
        await pilot.pause()
        assert app.screen is app.dashboard and len(seen) == 1
        # In the zoom too.
        await pilot.press("enter", "m")
        await wait_until(pilot, lambda: isinstance(app.screen, MessageInputScreen))
        await pilot.press(*"hi", "enter")
        await wait_until(pilot, lambda: len(seen) == 2)
        assert seen[1].actor == "beta" and seen[1].metadata["text"] == "hi"
        app.live.cancel_run()
        await wait_until(pilot, lambda: not app.running)


async def test_a_finished_agent_continues_after_the_run_ended(make_app: Any, tmp_path: Path) -> None:
    path = tmp_path / "quick.toml"
    path.write_text(QUICK_SPEC, encoding="utf-8")
    app = make_app(path, run_on_start=True, clock=None)
    async with app.run_test(size=(160, 44)) as pilot:
        await wait_until(pilot, lambda: app.live is not None and app.live.runner.status == "completed" and not app.running)
        await wait_until(pilot, lambda: app.dashboard.view.agents["alpha"].status == "completed")  # drawn
        app.dashboard.grid.focus_first()
        await pilot.press("m")
        await wait_until(pilot, lambda: isinstance(app.screen, MessageInputScreen))
        assert "continues with this in a new attempt" in str(app.screen.query_one("#message-to").render())
        await pilot.press(*"add tests", "enter")
        runner = app.live.runner
        await wait_until(pilot, lambda: runner.agents["alpha"].attempt == 2 and runner.status == "completed"
                         and not app.running)
        assert _messages(app) == [{"actor": "alpha", "text": "add tests", "attempt": 2, "delivery": "followup"}]


async def test_a_refusal_is_a_notification(make_app: Any, tmp_path: Path) -> None:
    path = tmp_path / "quick.toml"
    path.write_text(QUICK_SPEC.replace('sim = { duration = 0.2 }', 'sim = { duration = 600.0 }'), encoding="utf-8")
    app = make_app(path, run_on_start=True, clock=None)
    async with app.run_test(size=(160, 44)) as pilot:
        await wait_until(pilot, lambda: app.live is not None and statuses(app) == {"alpha": "running"})
        app.control_message("alpha", "x" * 9000)
        await pilot.pause()
        assert any("the message is 9000 characters" in n.message for n in app._notifications)
        app.live.cancel_run()
        await wait_until(pilot, lambda: not app.running)


async def test_message_is_in_the_command_palette(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        app.dashboard.grid.focus_first()
        await pilot.pause()
        assert "Message agent-backend" in [c.title for c in app.get_system_commands(app.screen)]


async def test_oneie_send_reaches_a_run_the_dashboard_holds_after_it_ended(make_app: Any, tmp_path: Path) -> None:
    import anyio

    from oneie_tui.engine.control_socket import exchange

    path = tmp_path / "quick.toml"
    path.write_text(QUICK_SPEC, encoding="utf-8")
    app = make_app(path, run_on_start=True, clock=None)
    async with app.run_test(size=(160, 44)) as pilot:
        await wait_until(pilot, lambda: app.live is not None and app.live.runner.status == "completed" and not app.running)
        runner = app.live.runner
        socket_path = str(runner.run_info["control"])
        request = {"op": "send", "agent": "alpha", "text": "one more pass"}
        answer = await anyio.to_thread.run_sync(exchange, socket_path, request, runner.run_id)
        assert answer == {"ok": True, "delivery": "followup"}
        await wait_until(pilot, lambda: runner.agents["alpha"].attempt == 2 and runner.status == "completed"
                         and not app.running)
        assert _messages(app)[-1] == {"actor": "alpha", "text": "one more pass", "attempt": 2, "delivery": "followup"}
        # The second life of the run records the same socket: `oneie send` finds it again.
        started = [e for e in app.store.events(runner.run_id) if e.type == EventType.RUN_STARTED]
        assert len(started) == 2 and {e.metadata["control"] for e in started} == {socket_path}
    assert not Path(socket_path).exists()  # the dashboard let go of it when it closed
