"""Runner semantics, driven step by step (a backend the test controls and a fake clock),
so every assertion is about order and state, never about how fast the machine is."""

from __future__ import annotations

import pytest

from oneie_tui.views.metrics import compute
from tests.unit.test_runner_kit import (
    agent_toml,
    drive,
    driven_runner,
    max_running,
    of_type,
    settle,
    spec_of,
    statuses,
)

A = agent_toml


def seq_of(events, kind, actor):  # type: ignore[no-untyped-def]
    found = of_type(events, kind, actor)
    assert found, f"no {kind} from {actor}"
    return found[0].seq


def test_every_ready_agent_starts_at_once() -> None:
    spec = spec_of(A("a") + A("b") + A("c"))
    runner, backend, _, events = driven_runner(spec)

    async def script() -> None:
        assert statuses(runner) == {"a": "running", "b": "running", "c": "running"}
        for agent in "abc":
            backend.send(agent, "done")

    drive(runner, script)
    assert max_running(events) == 3
    assert runner.status == "completed"


def test_after_starts_the_moment_all_events_fire() -> None:
    spec = spec_of(A("a", emits=["x_ready", "y_ready"]) + A("b", after=["x_ready", "y_ready"]))
    runner, backend, _, events = driven_runner(spec)

    async def script() -> None:
        assert statuses(runner)["b"] == "waiting"
        backend.send("a", "emit", "x_ready")
        await settle()
        assert statuses(runner)["b"] == "waiting"  # one of two is not enough
        backend.send("a", "emit", "y_ready")
        await settle()
        assert statuses(runner) == {"a": "running", "b": "running"}  # a has not finished
        backend.send("a", "done")
        backend.send("b", "done")

    drive(runner, script)
    fired = [e for e in events if e.type == "task_event" and e.action == "y_ready"][0]
    assert seq_of(events, "agent_started", "b") > fired.seq
    assert seq_of(events, "agent_started", "b") < seq_of(events, "agent_completed", "a")


def test_after_any_starts_on_the_first() -> None:
    spec = spec_of(
        A("a", emits=["a_ready"]) + A("b", emits=["b_ready"]) + A("c", after_any=["a_ready", "b_ready"])
    )
    runner, backend, _, events = driven_runner(spec)

    async def script() -> None:
        backend.send("b", "emit", "b_ready")
        await settle()
        assert statuses(runner) == {"a": "running", "b": "running", "c": "running"}
        for agent in "abc":
            backend.send(agent, "done")

    drive(runner, script)
    assert runner.status == "completed"


def test_race_first_success_cancels_the_rest_and_the_loser_is_no_failure() -> None:
    spec = spec_of(A("a", race="design") + A("b", race="design") + A("c"))
    runner, backend, _, events = driven_runner(spec)

    async def script() -> None:
        backend.send("a", "done")
        await settle()
        assert statuses(runner)["b"] == "cancelled"
        assert statuses(runner)["c"] == "running"
        backend.send("c", "done")

    drive(runner, script)
    lost = of_type(events, "agent_cancelled", "b")[0]
    assert lost.metadata["reason"] == "race lost to a"
    assert lost.metadata["race_lost"] is True
    assert runner.status == "completed"


def test_race_member_failing_before_the_winner_is_no_failure_and_no_cascade() -> None:
    spec = spec_of(A("a", race="g") + A("b", race="g") + A("c"), run='on_failure = "cancel"')
    runner, backend, _, _ = driven_runner(spec)

    async def script() -> None:
        backend.send("a", "fail", "bad idea")
        await settle()
        assert statuses(runner) == {"a": "failed", "b": "running", "c": "running"}
        backend.send("b", "done")
        backend.send("c", "done")

    drive(runner, script)
    assert runner.status == "completed"


def test_race_where_everyone_fails_fails_the_run_and_cascades() -> None:
    spec = spec_of(A("a", race="g") + A("b", race="g") + A("c"), run='on_failure = "cancel"')
    runner, backend, _, _ = driven_runner(spec)

    async def script() -> None:
        backend.send("a", "fail", "no")
        backend.send("b", "fail", "no either")

    drive(runner, script)
    assert statuses(runner) == {"a": "failed", "b": "failed", "c": "cancelled"}
    assert runner.status == "failed"


def test_cascade_cancels_running_and_waiting_with_the_reason() -> None:
    spec = spec_of(
        A("a", emits=["a_ready"]) + A("b") + A("c", after=["a_ready"]), run='on_failure = "cancel"'
    )
    runner, backend, _, events = driven_runner(spec)

    async def script() -> None:
        backend.send("a", "fail", "schema broke")

    drive(runner, script)
    assert statuses(runner) == {"a": "failed", "b": "cancelled", "c": "cancelled"}
    for agent in "bc":
        reason = of_type(events, "agent_cancelled", agent)[0].metadata["reason"]
        assert reason == "cascade: a failed (schema broke)"
    failed = [e for e in events if e.action == "task_failed"][0]
    assert failed.metadata["shouldCancelParallel"] is True
    assert failed.actor == "a"
    assert runner.status == "failed"


def test_continue_lets_the_others_finish_and_blocks_dependents_at_once() -> None:
    spec = spec_of(
        A("a", emits=["a_ready"]) + A("b") + A("c", after=["a_ready"]), run='on_failure = "continue"'
    )
    runner, backend, _, events = driven_runner(spec)

    async def script() -> None:
        backend.send("a", "fail", "broke")
        await settle()
        # c can never start: blocked now, while b is still running.
        assert statuses(runner) == {"a": "failed", "b": "running", "c": "blocked"}
        backend.send("b", "done")

    drive(runner, script)
    assert statuses(runner) == {"a": "failed", "b": "completed", "c": "blocked"}
    assert "a_ready" in of_type(events, "agent_blocked", "c")[0].metadata["reason"]
    assert [e.action for e in events if e.action == "task_failed"] == ["task_failed"]
    assert of_type(events, "task_event")[0].metadata["shouldCancelParallel"] is False
    assert runner.status == "failed"


def test_after_any_is_blocked_only_when_every_source_is_dead() -> None:
    spec = spec_of(
        A("a", emits=["a_ready"]) + A("b", emits=["b_ready"]) + A("c", after_any=["a_ready", "b_ready"]),
        run='on_failure = "continue"',
    )
    runner, backend, _, _ = driven_runner(spec)

    async def script() -> None:
        backend.send("a", "fail", "x")
        await settle()
        assert statuses(runner)["c"] == "waiting"
        backend.send("b", "done")  # finished without firing b_ready

    drive(runner, script)
    assert statuses(runner) == {"a": "failed", "b": "completed", "c": "blocked"}


def test_an_emitter_that_completes_without_firing_blocks_its_waiters() -> None:
    spec = spec_of(A("a", emits=["a_ready"]) + A("c", after=["a_ready"]))
    runner, backend, _, _ = driven_runner(spec)

    async def script() -> None:
        backend.send("a", "done")

    drive(runner, script)
    assert statuses(runner) == {"a": "completed", "c": "blocked"}
    assert runner.status == "failed"


def test_max_parallel_queues_the_excess() -> None:
    spec = spec_of(A("a") + A("b") + A("c") + A("d"), run="max_parallel = 2")
    runner, backend, _, events = driven_runner(spec)

    async def script() -> None:
        assert sorted(statuses(runner).values()) == ["queued", "queued", "running", "running"]
        for agent in "abcd":
            backend.send(agent, "done")

    drive(runner, script)
    assert max_running(events) == 2
    assert runner.status == "completed"
    assert len([e for e in events if e.type == "agent_queued" and e.metadata.get("slot")]) == 2


def test_waiting_agents_hold_no_slot() -> None:
    spec = spec_of(A("a", emits=["a_ready"]) + A("w", after=["a_ready"]) + A("b"), run="max_parallel = 2")
    runner, backend, _, _ = driven_runner(spec)

    async def script() -> None:
        assert statuses(runner) == {"a": "running", "w": "waiting", "b": "running"}
        backend.send("b", "done")
        backend.send("a", "emit", "a_ready")
        await settle()
        assert statuses(runner) == {"a": "running", "w": "running", "b": "completed"}
        backend.send("a", "done")
        backend.send("w", "done")

    drive(runner, script)


def test_sequential_mode_runs_one_at_a_time() -> None:
    spec = spec_of(A("a", emits=["a_ready"]) + A("b", after=["a_ready"]) + A("c"))
    runner, backend, _, events = driven_runner(spec, sequential=True)

    async def script() -> None:
        for agent in "acb":
            await settle()
            assert [a for a, s in statuses(runner).items() if s == "running"] == [agent]
            if agent == "a":
                backend.send("a", "emit", "a_ready")
            backend.send(agent, "done")

    drive(runner, script)
    assert max_running(events) == 1
    assert runner.status == "completed"


def test_pause_and_resume_a_running_agent_active_time_excludes_the_pause() -> None:
    spec = spec_of(A("a") + A("b"))
    runner, backend, clock, events = driven_runner(spec)

    async def script() -> None:
        clock.advance(1.0)
        assert runner.pause("a")
        assert not runner.pause("a")  # already paused
        await settle()
        assert statuses(runner)["a"] == "paused"
        backend.send("a", "done")  # sent while paused: acted on only after resume
        clock.advance(5.0)
        await settle()
        assert statuses(runner)["a"] == "paused"
        assert runner.active_elapsed("a") == pytest.approx(1.0)
        assert runner.resume("a")
        await settle()
        clock.advance(2.0)
        backend.send("b", "done")

    drive(runner, script)
    metrics = compute(events)
    assert metrics.agents["a"].active_s == pytest.approx(1.0, abs=1e-6)  # done right at resume
    assert metrics.agents["b"].active_s == pytest.approx(8.0)
    assert metrics.wall_s == pytest.approx(8.0)
    assert statuses(runner) == {"a": "completed", "b": "completed"}


def test_pause_a_waiting_agent_it_does_not_start_until_resumed() -> None:
    spec = spec_of(A("a", emits=["a_ready"]) + A("b", after=["a_ready"]))
    runner, backend, clock, events = driven_runner(spec)

    async def script() -> None:
        assert runner.pause("b")
        backend.send("a", "emit", "a_ready")
        backend.send("a", "done")
        clock.advance(3.0)
        await settle()
        assert statuses(runner) == {"a": "completed", "b": "paused"}
        assert runner.resume("b")
        await settle()
        assert statuses(runner)["b"] == "running"
        clock.advance(1.0)
        backend.send("b", "done")

    drive(runner, script)
    assert of_type(events, "agent_paused", "b")[0].metadata["from"] == "waiting"
    assert seq_of(events, "agent_started", "b") > seq_of(events, "agent_resumed", "b")
    assert compute(events).agents["b"].active_s == pytest.approx(1.0)


def test_pause_and_resume_a_waiting_agent_before_its_events_fire() -> None:
    spec = spec_of(A("a", emits=["a_ready"]) + A("b", after=["a_ready"]))
    runner, backend, clock, events = driven_runner(spec)

    async def script() -> None:
        runner.pause("b")
        clock.advance(1.0)
        runner.resume("b")
        await settle()
        assert statuses(runner)["b"] == "waiting"
        backend.send("a", "emit", "a_ready")
        backend.send("a", "done")
        await settle()
        backend.send("b", "done")

    drive(runner, script)
    assert of_type(events, "agent_resumed", "b")[0].metadata["status"] == "waiting"
    assert compute(events).agents["b"].active_s == pytest.approx(0.0)
    assert runner.status == "completed"


def test_pause_a_queued_agent_frees_its_turn() -> None:
    spec = spec_of(A("a") + A("b") + A("c"), run="max_parallel = 1")
    runner, backend, _, _ = driven_runner(spec)

    async def script() -> None:
        assert statuses(runner) == {"a": "running", "b": "queued", "c": "queued"}
        runner.pause("b")
        backend.send("a", "done")
        await settle()
        assert statuses(runner) == {"a": "completed", "b": "paused", "c": "running"}
        runner.resume("b")
        backend.send("c", "done")
        await settle()
        assert statuses(runner)["b"] == "running"
        backend.send("b", "done")

    drive(runner, script)
    assert runner.status == "completed"


def test_cancel_a_running_agent() -> None:
    spec = spec_of(A("a") + A("b"))
    runner, backend, _, events = driven_runner(spec)

    async def script() -> None:
        assert runner.cancel("a")
        await settle()
        assert not runner.cancel("a")  # already ended
        backend.send("b", "done")

    drive(runner, script)
    assert of_type(events, "agent_cancelled", "a")[0].metadata["reason"] == "cancelled by user"
    assert runner.status == "failed"  # a user-cancelled agent did not succeed


def test_cancel_a_waiting_agent_and_its_dependents_are_blocked() -> None:
    spec = spec_of(
        A("a", emits=["a_ready"]) + A("b", after=["a_ready"], emits=["b_ready"]) + A("c", after=["b_ready"])
    )
    runner, backend, _, _ = driven_runner(spec)

    async def script() -> None:
        runner.cancel("b")
        await settle()
        assert statuses(runner) == {"a": "running", "b": "cancelled", "c": "blocked"}
        backend.send("a", "emit", "a_ready")
        backend.send("a", "done")

    drive(runner, script)


def test_cancel_a_paused_agent() -> None:
    spec = spec_of(A("a"))
    runner, _, _, _ = driven_runner(spec)

    async def script() -> None:
        runner.pause("a")
        await settle()
        runner.cancel("a", "not needed")

    drive(runner, script)
    assert runner.agents["a"].status == "cancelled"
    assert runner.agents["a"].reason == "not needed"


def test_restart_a_running_agent() -> None:
    spec = spec_of(A("a", emits=["a_ready"]) + A("b", after=["a_ready"]))
    runner, backend, clock, events = driven_runner(spec)

    async def script() -> None:
        clock.advance(2.0)
        assert runner.restart("a")
        await settle()
        assert runner.agents["a"].attempt == 2
        assert statuses(runner) == {"a": "running", "b": "waiting"}  # not blocked meanwhile
        clock.advance(1.0)
        backend.send("a", "emit", "a_ready")
        backend.send("a", "done")
        await settle()
        backend.send("b", "done")

    drive(runner, script)
    cancelled = of_type(events, "agent_cancelled", "a")[0]
    assert cancelled.metadata["reason"] == "restarted by user"
    assert [e.metadata["attempt"] for e in of_type(events, "agent_queued", "a")] == [1, 2]
    assert statuses(runner) == {"a": "completed", "b": "completed"}
    assert runner.status == "completed"  # the cancelled first attempt was superseded
    assert compute(events).agents["a"].attempts == 2


def test_restart_a_waiting_agent_and_a_finished_one() -> None:
    spec = spec_of(A("a", emits=["a_ready"]) + A("b", after=["a_ready"]) + A("c"))
    runner, backend, _, events = driven_runner(spec)

    async def script() -> None:
        assert runner.restart("b")
        await settle()
        assert statuses(runner)["b"] == "waiting"
        backend.send("c", "done")
        await settle()
        assert runner.restart("c")  # ended: runs again
        await settle()
        assert statuses(runner)["c"] == "running"
        backend.send("c", "done")
        backend.send("a", "emit", "a_ready")
        backend.send("a", "done")
        await settle()
        backend.send("b", "done")

    drive(runner, script)
    assert runner.agents["b"].attempt == 2
    assert runner.agents["c"].attempt == 2
    assert set(statuses(runner).values()) == {"completed"}


def test_cancel_run_cancels_everyone_and_marks_the_run_cancelled() -> None:
    spec = spec_of(A("a", emits=["a_ready"]) + A("b", after=["a_ready"]) + A("c"))
    runner, _, _, events = driven_runner(spec)

    async def script() -> None:
        runner.pause("c")
        runner.cancel_run("stop")

    drive(runner, script)
    assert statuses(runner) == {"a": "cancelled", "b": "cancelled", "c": "cancelled"}
    assert runner.status == "cancelled"
    assert events[-1].type == "run_finished"
    assert events[-1].metadata["status"] == "cancelled"


def test_an_agent_waiting_mid_run_gives_back_its_slot() -> None:
    spec = spec_of(A("a", emits=["x_ready"]) + A("b"), run="max_parallel = 1")
    runner, backend, clock, events = driven_runner(spec)

    async def script() -> None:
        first = "a" if statuses(runner)["a"] == "running" else "b"
        assert first == "a"
        backend.send("a", "wait", ["y_done"], "all")  # nobody emits y_done: becomes impossible
        await settle()
        assert statuses(runner)["b"] == "running"
        backend.send("b", "done")

    drive(runner, script)
    # y_done can never fire (no emitter at all): the wait fails the agent instead of hanging.
    assert statuses(runner)["a"] == "blocked"
    assert max_running(events) == 1


def test_a_backend_exception_fails_only_that_agent() -> None:
    spec = spec_of(A("a") + A("b"), run='on_failure = "continue"')
    runner, backend, _, events = driven_runner(spec)

    async def script() -> None:
        backend.send("a", "explode")  # unknown command: the driven backend ignores it
        backend.send("a", "fail", "boom")
        backend.send("b", "done")

    drive(runner, script)
    assert statuses(runner) == {"a": "failed", "b": "completed"}
    assert of_type(events, "agent_failed", "a")[0].metadata["reason"] == "boom"


def test_seq_is_gap_free_and_starts_at_one() -> None:
    spec = spec_of(A("a", emits=["a_ready"]) + A("b", after=["a_ready"]))
    runner, backend, _, events = driven_runner(spec)

    async def script() -> None:
        backend.send("a", "emit", "a_ready")
        backend.send("a", "done")
        await settle()
        backend.send("b", "done")

    drive(runner, script)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert {e.run_id for e in events} == {runner.run_id}


def test_running_twice_continues_the_same_run() -> None:
    spec = spec_of(A("a"))
    runner, backend, _, events = driven_runner(spec)

    async def first() -> None:
        backend.send("a", "done")

    drive(runner, first)
    drive(runner, first)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert runner.agents["a"].attempt == 2


def test_a_timed_wait_is_not_taken_for_a_deadlock() -> None:
    spec = spec_of(A("a"))
    runner, backend, _, events = driven_runner(spec)

    async def script() -> None:
        backend.send("a", "wait", ["y_done"], "all", 0.05)  # nobody emits it; it times out
        backend.send("a", "done")

    drive(runner, script)
    assert statuses(runner) == {"a": "completed"}
    assert [e.type for e in events if e.actor == "a"][-3:] == ["agent_waiting", "agent_resumed", "agent_completed"]


def test_the_landing_resolver_does_not_run_with_the_squad() -> None:
    # `[land] resolve_with` names an agent `oneie land` starts on a conflict: it is on call.
    spec = spec_of(A("a") + A("fixer"), run='[land]\nresolve_with = "fixer"')
    runner, backend, _, events = driven_runner(spec)

    async def script() -> None:
        assert statuses(runner) == {"a": "running", "fixer": "pending"}
        backend.send("a", "done")

    drive(runner, script)
    assert not of_type(events, "agent_queued", "fixer")
    assert runner.status == "completed"
    assert runner.restore(events) == []  # nor does a resume start it


def test_waiting_on_an_event_only_the_resolver_emits_is_refused() -> None:
    from oneie_tui.spec.loader import SpecError

    with pytest.raises(SpecError, match="only the resolver 'fixer' emits"):
        spec_of(A("a", after=["fix_done"]) + A("fixer", emits=["fix_done"]), run='[land]\nresolve_with = "fixer"')
