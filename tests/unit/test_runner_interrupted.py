"""An agent whose surroundings died (`AgentInterrupted`, e.g. its Ray node) ends
`cancelled` and interrupted with the reason; the rest follows `on_failure`; the run ends
`interrupted`, and a restored runner launches the interrupted agents again."""

from __future__ import annotations

import anyio
import pytest

from oneie_tui.agents.base import AgentBackend, AgentContext, AgentInterrupted, AgentResult
from oneie_tui.engine.runner import Runner
from oneie_tui.events import Event, EventType
from oneie_tui.spec.loader import parse_spec_text


class NodeLost(AgentBackend):
    """`lost` dies with its node at once; the others run until cancelled or 0.3 s."""

    async def run(self, ctx: AgentContext) -> AgentResult:
        if ctx.agent_id == "lost":
            await anyio.sleep(0.05)
            raise AgentInterrupted("its Ray host on node n2 died (test)")
        await anyio.sleep(0.3)
        return AgentResult("done")


def _run(on_failure: str) -> tuple[Runner, list[Event]]:
    spec = parse_spec_text(
        f'[feature]\nname = "n"\ndescription = "d"\n[run]\non_failure = "{on_failure}"\n'
        '[[agents]]\nid = "lost"\ntask = "t"\n[[agents]]\nid = "other"\ntask = "t"\n'
    )
    backend = NodeLost()
    runner = Runner(spec, lambda _a: backend)
    events: list[Event] = []
    runner.bus.subscribe(events.append)
    anyio.run(runner.run)
    return runner, events


def _end(events: list[Event], agent: str) -> Event:
    return [e for e in events if e.actor == agent and e.type.startswith("agent_") and e.type in (
        EventType.AGENT_COMPLETED, EventType.AGENT_CANCELLED, EventType.AGENT_FAILED)][-1]


@pytest.mark.parametrize("on_failure", ["cancel", "continue"])
def test_an_interrupted_agent_is_resumable_and_the_rest_follows_on_failure(on_failure: str) -> None:
    runner, events = _run(on_failure)
    lost = _end(events, "lost")
    assert lost.type == EventType.AGENT_CANCELLED
    assert lost.metadata["interrupted"] is True
    assert lost.metadata["reason"] == "its Ray host on node n2 died (test)"
    other = _end(events, "other")
    if on_failure == "cancel":
        assert other.type == EventType.AGENT_CANCELLED and other.metadata.get("interrupted") is True
        assert other.metadata["reason"].startswith("cascade: lost interrupted")
    else:
        assert other.type == EventType.AGENT_COMPLETED
    assert runner.status == "interrupted"
    again = Runner(runner.spec, lambda _a: NodeLost())
    relaunch = again.restore(events)
    assert relaunch == (["lost", "other"] if on_failure == "cancel" else ["lost"])
