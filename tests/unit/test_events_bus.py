"""The event bus: gap-free seq, glob subscriptions, wait_for_all and race_for_first."""

from __future__ import annotations

import anyio
import pytest

from oneie_tui.events import Event, EventBus, EventImpossible


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        self.t += 1.0
        return self.t


def bus() -> EventBus:
    return EventBus("run-1", Clock())


def test_events_carry_every_field_and_a_gap_free_seq() -> None:
    b = bus()
    first = b.publish("run_started")
    second = b.publish("task_event", "agent-backend", target="backend", group="g", metadata={"action": "schema_ready"})
    assert (first.seq, second.seq) == (1, 2)
    assert b.last_seq == 2
    assert second.to_dict() == {
        "seq": 2, "run_id": "run-1", "ts": 102.0, "type": "task_event", "actor": "agent-backend",
        "target": "backend", "group": "g", "metadata": {"action": "schema_ready"},
    }
    assert Event.from_dict(second.to_dict()) == second
    assert second.action == "schema_ready"


def test_glob_subscriptions_on_type_and_actor_or_target_path() -> None:
    b = bus()
    seen: dict[str, list[int]] = {"all": [], "tasks": [], "backend_role": [], "actor": [], "agents": []}
    b.subscribe(lambda e: seen["all"].append(e.seq))
    b.subscribe(lambda e: seen["tasks"].append(e.seq), "task_event")
    b.subscribe(lambda e: seen["backend_role"].append(e.seq), "task_event", "backend/*")  # the reference's
    b.subscribe(lambda e: seen["actor"].append(e.seq), "*", "agent-frontend/*")
    b.subscribe(lambda e: seen["agents"].append(e.seq), "agent_*")
    b.publish("task_event", "agent-backend", target="backend", metadata={"action": "schema_ready"})  # 1
    b.publish("task_event", "agent-frontend", target="frontend", metadata={"action": "ui_ready"})  # 2
    b.publish("agent_started", "agent-frontend")  # 3
    b.publish("agent_output", "agent-backend", metadata={"text": "x"})  # 4
    assert seen == {"all": [1, 2, 3, 4], "tasks": [1, 2], "backend_role": [1], "actor": [2, 3], "agents": [3, 4]}


def test_action_globs() -> None:
    b = bus()
    ready: list[str] = []
    b.subscribe(lambda e: ready.append(e.action), "task_event", "*/*_ready")
    for action in ("schema_ready", "task_failed", "ui_ready"):
        b.publish("task_event", "a", metadata={"action": action})
    assert ready == ["schema_ready", "ui_ready"]


def test_unsubscribe() -> None:
    b = bus()
    seen: list[int] = []
    sub = b.subscribe(lambda e: seen.append(e.seq))
    b.publish("x_y")
    b.unsubscribe(sub)
    b.unsubscribe(sub)  # twice is harmless
    b.publish("x_y")
    assert seen == [1]


def test_wait_for_all_returns_when_every_action_fired() -> None:
    b = bus()
    got: dict[str, Event] = {}

    async def main() -> None:
        async with anyio.create_task_group() as tg:

            async def waiter() -> None:
                got.update(await b.wait_for_all(["a_ready", "b_ready", "a_ready"]))

            tg.start_soon(waiter)
            await anyio.sleep(0)
            b.publish("task_event", "x", metadata={"action": "a_ready"})
            await anyio.sleep(0)
            assert not got
            b.publish("task_event", "y", metadata={"action": "b_ready"})

    anyio.run(main)
    assert sorted(got) == ["a_ready", "b_ready"]


def test_race_for_first_returns_the_earliest() -> None:
    b = bus()
    b.publish("task_event", "x", metadata={"action": "design_option_b"})
    b.publish("task_event", "y", metadata={"action": "design_option_a"})

    async def main() -> Event:
        return await b.race_for_first(["design_option_a", "design_option_b"])

    assert anyio.run(main).action == "design_option_b"


def test_waits_fail_fast_once_an_action_is_impossible() -> None:
    b = bus()

    async def wait_all() -> None:
        await b.wait_for_all(["a_ready", "b_ready"])

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(wait_all)
            await anyio.sleep(0)
            b.mark_impossible(["b_ready"])

    with pytest.raises(BaseExceptionGroup) as info:
        anyio.run(main)
    assert isinstance(info.value.exceptions[0], EventImpossible)
    assert info.value.exceptions[0].actions == ["b_ready"]


def test_race_is_impossible_only_when_all_are() -> None:
    b = bus()
    b.mark_impossible(["a_ready"])

    async def main() -> Event:
        async with anyio.create_task_group() as tg:
            result: list[Event] = []

            async def race() -> None:
                result.append(await b.race_for_first(["a_ready", "b_ready"]))

            tg.start_soon(race)
            await anyio.sleep(0)
            b.publish("task_event", "x", metadata={"action": "b_ready"})
        return result[0]

    assert anyio.run(main).action == "b_ready"

    async def doomed() -> None:
        await b.race_for_first(["a_ready", "c_ready"])

    b.mark_impossible(["c_ready"])
    with pytest.raises(EventImpossible):
        anyio.run(doomed)


def test_a_fired_action_is_never_impossible() -> None:
    b = bus()
    b.publish("task_event", "x", metadata={"action": "a_ready"})
    b.mark_impossible(["a_ready"])
    assert not b.is_impossible("a_ready")


def test_seek_continues_numbering() -> None:
    b = bus()
    b.seek(41)
    assert b.publish("run_started").seq == 41


def test_awaited_reads_start_waits_and_tool_waits() -> None:
    from oneie_tui.events import awaited

    assert awaited({"after": ["schema_ready"], "after_any": ["design_a_done"]}) == ["schema_ready", "design_a_done"]
    assert awaited({"after": [], "after_any": [], "waiting_for": ["ui_ready"], "mode": "any"}) == ["ui_ready"]
    assert awaited({}) == []
