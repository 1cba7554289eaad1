"""Talking to an agent (`Runner.send_message`): a running attempt gets the message at its
next boundary, a finished one a follow-up attempt; every message is an `agent_message`
event with its text redacted, and a refusal is one line saying why."""

from __future__ import annotations

import anyio
import pytest

from oneie_tui.agents.base import AgentBackend, AgentContext, AgentResult
from oneie_tui.engine.agent_messages import MAX_MESSAGE_CHARS, clean_message
from oneie_tui.engine.runner import Runner
from oneie_tui.events import Event, EventType
from tests.unit.test_runner_kit import agent_toml, drive, of_type, settle, sim_runner, spec_of

KEY = "sk-ant-api03-" + "A" * 40


def _outputs(events: list[Event], agent: str) -> list[str]:
    return [str(e.metadata["text"]) for e in of_type(events, EventType.AGENT_OUTPUT, agent)]


def _sim_spec(duration: float = 0.6) -> str:
    return agent_toml("a", extra=f"[agents.sim]\nduration = {duration}\nlines_per_second = 20")


def test_a_running_sim_agent_hears_the_message_and_goes_on() -> None:
    runner, events = sim_runner(spec_of(_sim_spec()))

    async def script() -> None:
        while runner.agents["a"].status != "running":
            await anyio.sleep(0.01)
        assert runner.send_message("a", f"use the \x1b[31mnew\x1b[0m schema, key {KEY}") is None

    drive(runner, script)
    (message,) = of_type(events, EventType.AGENT_MESSAGE, "a")
    assert message.metadata["delivery"] == "live"
    assert message.metadata["attempt"] == 1
    text = str(message.metadata["text"])
    assert KEY not in text and "\x1b" not in text and "use the [31mnew[0m schema" in text
    heard = [line for line in _outputs(events, "a") if line.startswith("message received: ")]
    assert len(heard) == 1 and KEY not in heard[0]
    # It went on with its plan after the message: it completed, in one attempt.
    assert runner.agents["a"].status == "completed" and runner.agents["a"].attempt == 1
    assert message.seq < of_type(events, EventType.AGENT_COMPLETED, "a")[0].seq


def test_a_finished_agent_continues_in_a_follow_up_attempt() -> None:
    runner, events = sim_runner(spec_of(_sim_spec(0.05) + agent_toml("b", extra="[agents.sim]\nduration = 1.0")))

    async def script() -> None:
        while runner.agents["a"].status != "completed":
            await anyio.sleep(0.01)
        assert runner.send_message("a", "now add an index") is None

    drive(runner, script)
    message = of_type(events, EventType.AGENT_MESSAGE, "a")[-1]
    assert message.metadata == {"text": "now add an index", "attempt": 2, "delivery": "followup"}
    queued = [e for e in of_type(events, EventType.AGENT_QUEUED, "a") if e.metadata.get("attempt") == 2]
    assert queued and queued[0].metadata.get("followup") is True and queued[0].seq > message.seq
    assert "message received: now add an index" in _outputs(events, "a")
    assert runner.agents["a"].status == "completed" and runner.agents["a"].attempt == 2


def test_after_the_run_ended_a_message_continues_the_run_through_its_holder() -> None:
    runner, events = sim_runner(spec_of(_sim_spec(0.05)))
    anyio.run(runner.run)
    assert runner.send_message("a", "one more thing") == "the run is over: a cannot be continued now"
    asked: list[list[str]] = []

    def continue_run(ids: list[str]) -> str | None:
        asked.append(ids)
        return None

    runner.continue_run = continue_run
    assert runner.send_message("a", "one more thing") is None
    assert asked == [["a"]]
    anyio.run(runner.run, ["a"])  # what the dashboard does with it
    message = of_type(events, EventType.AGENT_MESSAGE, "a")[-1]
    assert message.metadata["delivery"] == "followup" and message.metadata["attempt"] == 2
    assert "message received: one more thing" in _outputs(events, "a")

    runner.continue_run = lambda ids: "the run is finishing; try again in a moment"
    assert runner.send_message("a", "again") == "the run is finishing; try again in a moment"
    assert runner.agents["a"].pending_followup == ""


class Mute(AgentBackend):
    name = "mute"

    async def run(self, ctx: AgentContext) -> AgentResult:
        await anyio.sleep(0.2)
        return AgentResult()


def test_refusals_say_why_in_one_line() -> None:
    runner, events = sim_runner(spec_of(_sim_spec(0.3)))

    async def script() -> None:
        while runner.agents["a"].status != "running":
            await anyio.sleep(0.01)
        assert runner.send_message("zed", "hi") == f"no agent 'zed' in run {runner.run_id}"
        assert runner.send_message("a", " \x07 \n") == "the message is empty"
        long = "x" * (MAX_MESSAGE_CHARS + 1)
        assert runner.send_message("a", long) == (
            f"the message is {MAX_MESSAGE_CHARS + 1} characters; at most {MAX_MESSAGE_CHARS} are taken"
        )
        await settle()

    drive(runner, script)
    assert not of_type(events, EventType.AGENT_MESSAGE)

    mute = Runner(spec_of(agent_toml("m")), lambda _a: Mute())
    reason = mute.send_message("m", "hello")
    assert reason == "m: the mute backend does not take messages"
    assert mute.send_message("m", "") == "the message is empty"


def test_a_message_to_a_blocked_or_never_started_agent_is_refused() -> None:
    spec = spec_of(agent_toml("x", emits=["schema_ready"], extra="[agents.sim]\nduration = 0.05\nfail_at = 0.01")
                   + agent_toml("w", after=["schema_ready"]), run='on_failure = "continue"')
    runner, events = sim_runner(spec, run_id="r1")
    assert runner.send_message("x", "hi") == "x has not started in this run"
    anyio.run(runner.run)
    assert runner.agents["w"].status == "blocked"
    assert runner.send_message("w", "hi") == (
        "w is blocked (its events can no longer fire): restart it to run it again"
    )


def test_a_queued_agent_gets_the_message_when_its_attempt_begins() -> None:
    spec = spec_of(_sim_spec(0.2) + agent_toml("q", extra="[agents.sim]\nduration = 0.05"), run="max_parallel = 1")
    runner, events = sim_runner(spec)

    async def script() -> None:
        while runner.agents["q"].status != "queued":
            await anyio.sleep(0.001)
        assert runner.send_message("q", "start with the tests") is None

    drive(runner, script)
    assert "message received: start with the tests" in _outputs(events, "q")


def test_clean_message_strips_controls_and_keeps_lines() -> None:
    assert clean_message("  one\r\ntwo\x00\x1b\u202e\tthree \n") == "one\ntwo\tthree"
    with pytest.raises(ValueError, match="must be text"):
        clean_message(3)
