"""Agent and run timeouts count active time. Real (short) time with sim agents; the checks
are about what happened and in which order, with wide margins, never about speed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio

from oneie_tui.engine.runner import Runner
from tests.unit.test_runner_kit import agent_toml, of_type, sim_runner, spec_of, statuses


async def running(runner: Runner, agent_id: str) -> None:
    """Until the agent runs: pausing at once, not after a fixed sleep that a loaded
    machine can stretch past the timeout."""
    with anyio.fail_after(30):
        while runner.agents[agent_id].status != "running":
            await anyio.sleep(0.005)


def run_with(runner: Runner, script: Callable[[], Awaitable[None]] | None = None) -> None:
    async def main() -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(runner.run)
            if script is not None:
                await anyio.sleep(0)
                await script()

    anyio.run(main)


def test_agent_timeout_fails_the_agent() -> None:
    spec = spec_of(agent_toml("slow", extra="timeout = 0.1\nsim = { duration = 5.0 }"))
    runner, events = sim_runner(spec)
    run_with(runner)
    failed = of_type(events, "agent_failed", "slow")[0]
    assert failed.metadata["reason"] == "timed out after 0.1s of active time"
    assert runner.status == "failed"


def test_agent_timeout_is_scaled_by_speed() -> None:
    spec = spec_of(agent_toml("a", extra="timeout = 2.0\nsim = { duration = 1.0 }"))
    runner, _ = sim_runner(spec, speed=20)
    run_with(runner)
    assert statuses(runner) == {"a": "completed"}


def test_agent_timeout_does_not_count_pauses() -> None:
    spec = spec_of(agent_toml("a", extra="timeout = 0.2\nsim = { duration = 5.0 }"))
    runner, events = sim_runner(spec)

    async def script() -> None:
        await running(runner, "a")
        assert runner.pause("a")
        await anyio.sleep(0.4)  # twice the timeout: it would fire now if pauses counted
        assert runner.resume("a")

    run_with(runner, script)
    assert statuses(runner) == {"a": "failed"}
    assert of_type(events, "agent_failed", "a")[0].seq > of_type(events, "agent_resumed", "a")[0].seq


def test_agent_timeout_does_not_count_waiting_for_events() -> None:
    spec = spec_of(
        agent_toml("a", emits=["a_ready"], extra="sim = { duration = 0.4 }")
        + agent_toml("b", after=["a_ready"], extra="timeout = 0.2\nsim = { duration = 0.05 }")
    )
    runner, _ = sim_runner(spec)
    run_with(runner)
    assert statuses(runner) == {"a": "completed", "b": "completed"}


def test_run_timeout_cancels_everything_with_the_reason() -> None:
    spec = spec_of(
        agent_toml("a", extra="sim = { duration = 5.0 }")
        + agent_toml("b", emits=["b_ready"], extra="sim = { duration = 5.0 }")
        + agent_toml("c", after=["b_ready"]),
        run="timeout = 0.1",
    )
    runner, events = sim_runner(spec)
    run_with(runner)
    assert set(statuses(runner).values()) == {"cancelled"}
    for agent in "abc":
        assert of_type(events, "agent_cancelled", agent)[0].metadata["reason"] == "run timed out after 0.1s"
    assert runner.status == "failed"
    assert events[-1].metadata["reason"] == "run timed out after 0.1s"


def test_run_timeout_does_not_count_time_when_everything_is_paused() -> None:
    spec = spec_of(agent_toml("a", extra="sim = { duration = 5.0 }"), run="timeout = 0.2")
    runner, events = sim_runner(spec)

    async def script() -> None:
        await running(runner, "a")
        assert runner.pause_all() == 1
        await anyio.sleep(0.4)
        assert runner.resume_all() == 1

    run_with(runner, script)
    assert statuses(runner) == {"a": "cancelled"}
    assert of_type(events, "agent_cancelled", "a")[0].seq > of_type(events, "agent_resumed", "a")[0].seq
