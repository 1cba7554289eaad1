"""Simulated agents: deterministic for a seed, events where the spec puts them, failure on
request, and no up-front cost for long or chatty agents."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import anyio

from oneie_tui.events import Event
from oneie_tui.views.run_view import RunView
from tests.unit.test_runner_kit import agent_toml, of_type, sim_runner, spec_of

CHATTY = 'sim = { duration = 0.05, lines_per_second = 400 }'


def outputs(seed: int) -> list[str]:
    spec = spec_of(agent_toml("a", extra=CHATTY))
    runner, events = sim_runner(spec, seed=seed, speed=1)
    anyio.run(runner.run)
    return [str(e.metadata["text"]) for e in of_type(events, "agent_output")]


def test_same_seed_same_output_and_another_seed_differs() -> None:
    first, again, other = outputs(7), outputs(7), outputs(8)
    assert first == again
    assert first != other
    assert len(first) == 20  # 400 lines/s for 0.05 s
    assert first[0].endswith("(1)") and first[-1].endswith("(20)")


def test_events_fire_in_order_the_last_at_the_end() -> None:
    spec = spec_of(
        agent_toml("a", emits=["a_started", "a_middle", "a_done"], extra="sim = { duration = 0.3, events = { a_started = 0.0 } }")
    )
    runner, events = sim_runner(spec, speed=3)
    anyio.run(runner.run)
    fired = [e for e in events if e.type == "task_event"]
    assert [e.action for e in fired] == ["a_started", "a_middle", "a_done"]
    done = of_type(events, "agent_completed", "a")[0]
    assert fired[-1].seq == done.seq - 1  # the last event fires at the end, just before completion
    progress = [e.metadata["percent"] for e in of_type(events, "agent_progress", "a")]
    assert progress == [10.0 * i for i in range(1, 11)]


def test_fail_at_fails_with_the_given_error_and_no_later_events() -> None:
    spec = spec_of(
        agent_toml("a", emits=["a_half", "a_done"], extra='sim = { duration = 0.2, fail_at = 0.05, error = "disk full" }'),
        run='on_failure = "continue"',
    )
    runner, events = sim_runner(spec)
    anyio.run(runner.run)
    assert of_type(events, "agent_failed", "a")[0].metadata["reason"] == "disk full"
    assert [e.action for e in events if e.type == "task_event"] == ["task_failed"]


def test_the_fold_of_a_sim_run_matches_the_runner() -> None:
    spec = spec_of(
        agent_toml("a", emits=["a_ready"], extra=CHATTY) + agent_toml("b", after=["a_ready"], extra=CHATTY)
    )
    runner, events = sim_runner(spec, speed=2)
    anyio.run(runner.run)
    view = RunView.for_spec(spec)
    view.apply_all(events)
    assert view.status == "completed"
    assert {a: v.status for a, v in view.agents.items()} == {"a": "completed", "b": "completed"}
    assert view.agents["a"].events_fired == ["a_ready"]
    assert view.agents["b"].output_lines == len(of_type(events, "agent_output", "b"))


def test_runstate_keeps_a_paused_waiting_agent_waiting() -> None:
    view = RunView()
    for seq, (kind, meta) in enumerate(
        [("agent_waiting", {"after": ["x_ready"]}), ("agent_paused", {"from": "waiting"}),
         ("agent_resumed", {"status": "waiting"})],
        start=1,
    ):
        view.apply(Event(seq, "r", float(seq), kind, "a", metadata=meta))
    assert view.agents["a"].status == "waiting"
    assert view.agents["a"].waiting_for == ["x_ready"]


def test_a_day_long_chatty_agent_costs_nothing_up_front() -> None:
    # 86,400 s at 100,000 lines/s: the old planner built 8.6 billion lines before starting.
    script = textwrap.dedent(
        """
        import anyio
        from tests.unit.test_runner_kit import agent_toml, sim_runner, spec_of
        spec = spec_of(agent_toml("a", extra="sim = { duration = 86400, lines_per_second = 100000 }"),
                       run="timeout = 0.2")
        runner, events = sim_runner(spec)
        anyio.run(runner.run)
        print(runner.agents["a"].status, runner.agents["a"].reason)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "cancelled run timed out after 0.2s", done.stderr[-2000:]
