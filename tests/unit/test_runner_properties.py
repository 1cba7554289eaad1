"""Scheduling invariants over generated small DAG specs, checked from the event log alone:
every agent ends terminal; nobody starts before its `after` events fired (or one of its
`after_any`); seq is gap-free; with max_parallel = k never more than k run at once."""

from __future__ import annotations

from typing import Any

import anyio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oneie_tui.engine.runner import Runner
from oneie_tui.events import Event
from oneie_tui.spec.loader import parse_spec_text
from oneie_tui.spec.model import Spec
from tests.unit.test_runner_kit import max_running, sim_runner

TERMINAL = {"agent_completed", "agent_failed", "agent_cancelled", "agent_blocked"}


@st.composite
def dag_specs(draw: st.DrawFn) -> tuple[Spec, int]:
    n = draw(st.integers(1, 6))
    max_parallel = draw(st.integers(0, 3))
    on_failure = draw(st.sampled_from(["cancel", "continue"]))
    emitted: list[str] = []
    blocks: list[str] = []
    for i in range(n):
        emits = [f"e{i}_{k}" for k in range(draw(st.integers(0, 2)))]
        after = draw(st.lists(st.sampled_from(emitted), unique=True, max_size=2)) if emitted else []
        after_any = draw(st.lists(st.sampled_from(emitted), unique=True, max_size=2)) if emitted else []
        duration = draw(st.sampled_from([0.0, 0.01, 0.03, 0.06]))
        sim: dict[str, Any] = {"duration": duration, "lines_per_second": 200.0}
        if draw(st.integers(0, 5)) == 0:
            sim["fail_at"] = duration / 2
        race = draw(st.sampled_from([None, None, None, "g"]))

        def arr(items: list[str]) -> str:
            return "[" + ", ".join(f'"{x}"' for x in items) + "]"

        sim_toml = ", ".join(f"{k} = {v}" for k, v in sim.items())
        block = (
            f'[[agents]]\nid = "a{i}"\nemits = {arr(emits)}\nafter = {arr(after)}\n'
            f"after_any = {arr(after_any)}\nsim = {{ {sim_toml} }}\n"
        )
        if race:
            block += f'race = "{race}"\n'
        blocks.append(block)
        emitted += emits
    text = (
        f'[feature]\nname = "dag"\n[run]\nmax_parallel = {max_parallel}\n'
        f'on_failure = "{on_failure}"\n' + "".join(blocks)
    )
    return parse_spec_text(text, "<dag>"), max_parallel


def check_invariants(spec: Spec, limit: int, events: list[Event]) -> None:
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert events[0].type == "run_started"
    assert events[-1].type == "run_finished"
    fired: dict[str, int] = {}
    last_state: dict[str, str] = {}
    for e in events:
        if e.type == "task_event" and e.action:
            fired.setdefault(e.action, e.seq)
        if e.type == "agent_started":
            agent = spec.agent(e.actor)
            for name in agent.after:
                assert name in fired and fired[name] < e.seq, f"{e.actor} started before {name}"
            if agent.after_any:
                assert any(fired.get(n, e.seq) < e.seq for n in agent.after_any)
        if e.type.startswith("agent_") and e.type not in ("agent_output", "agent_progress"):
            last_state[e.actor] = e.type
    for agent in spec.agents:
        assert last_state.get(agent.id) in TERMINAL, f"{agent.id} ended as {last_state.get(agent.id)}"
        if last_state[agent.id] == "agent_blocked":
            awaited = [*agent.after, *agent.after_any]
            assert any(n not in fired for n in awaited)
    if limit:
        assert max_running(events) <= limit
    finished = events[-1].metadata
    statuses = {a["id"]: a["status"] for a in finished["agents"]}
    assert statuses == {a.id: last_state[a.id][len("agent_"):] for a in spec.agents}


def run_or_fail(runner: Runner) -> None:
    async def main() -> None:
        with anyio.fail_after(20):  # a hang is a failure, not a stuck test run
            await runner.run()

    anyio.run(main)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dag_specs())
def test_scheduling_invariants(case: tuple[Spec, int]) -> None:
    spec, limit = case
    runner, events = sim_runner(spec)
    run_or_fail(runner)
    check_invariants(spec, limit, events)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dag_specs())
def test_sequential_mode_runs_one_at_a_time(case: tuple[Spec, int]) -> None:
    spec, _ = case
    runner, events = sim_runner(spec, sequential=True)
    run_or_fail(runner)
    check_invariants(spec, 1, events)


def test_regression_woken_waiters_are_not_taken_for_a_deadlock() -> None:
    # Found by the property above: in sequential mode a2 and a3 had been woken by e1_0 but
    # not yet scheduled when a1 ended; the deadlock check read "everyone waits" and
    # blocked a4, whose event a3 was about to fire.
    text = (
        '[feature]\nname = "dag"\n'
        '[[agents]]\nid = "a0"\nsim = { duration = 0.0 }\n'
        '[[agents]]\nid = "a1"\nemits = ["e1_0"]\nsim = { duration = 0.0 }\n'
        '[[agents]]\nid = "a2"\nafter_any = ["e1_0"]\nsim = { duration = 0.0 }\n'
        '[[agents]]\nid = "a3"\nafter_any = ["e1_0"]\nemits = ["e3_0"]\nsim = { duration = 0.0 }\n'
        '[[agents]]\nid = "a4"\nafter_any = ["e3_0"]\nsim = { duration = 0.0 }\n'
    )
    spec = parse_spec_text(text)
    runner, events = sim_runner(spec, sequential=True)
    run_or_fail(runner)
    check_invariants(spec, 1, events)
    assert runner.status == "completed"
