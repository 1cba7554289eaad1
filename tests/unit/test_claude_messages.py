"""Talking to a `claude` agent: a message becomes a user turn in the next request (the
scripted server sees it), and a follow-up to a finished agent continues the same
conversation with the message as a new user turn."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from oneie_tui.engine.runner import Runner
from oneie_tui.events import EventType
from tests.fakes.anthropic_server import ScriptedAnthropicServer, per_agent, report_progress, text
from tests.unit.test_claude_backend import SECRET, run_claude, write_spec

ONE = """
[run]
backend = "claude"

[[agents]]
id = "agent-solo"
role = "backend"
task = "Schema"
"""


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)


def test_a_message_is_a_user_turn_of_the_next_request(tmp_path: Path) -> None:
    answer: list[str | None] = []

    async def control(runner: Runner, srv: ScriptedAnthropicServer) -> None:
        with anyio.fail_after(20):
            while not srv.message_requests():  # the first turn is on its way (and slow)
                await anyio.sleep(0.01)
            answer.append(runner.send_message("agent-solo", "use UUID keys"))

    script = [report_progress(50, "halfway", delay=0.6), text("Done with UUIDs.")]
    run = run_claude(tmp_path, write_spec(tmp_path, ONE), script, control=control)
    assert answer == [None]
    assert run.status("agent-solo") == ("completed", "")
    first, second = run.server.message_requests()
    assert not any("use UUID keys" in t for t in first.user_texts)
    assert second.user_texts[-1] == "A message from the user, sent while you work:\nuse UUID keys"
    assert second.tool_results  # in the same user turn as the tool's result
    (message,) = run.of(EventType.AGENT_MESSAGE, "agent-solo")
    assert message.metadata == {"text": "use UUID keys", "attempt": 1, "delivery": "live"}


def test_a_message_during_the_last_turn_keeps_the_agent_going(tmp_path: Path) -> None:
    async def control(runner: Runner, srv: ScriptedAnthropicServer) -> None:
        with anyio.fail_after(20):
            while not srv.message_requests():
                await anyio.sleep(0.01)
            assert runner.send_message("agent-solo", "and add an index") is None

    script = [text("All done.", delay=0.6), text("Index added.")]
    run = run_claude(tmp_path, write_spec(tmp_path, ONE), script, control=control)
    requests = run.server.message_requests()
    assert len(requests) == 2
    assert requests[1].messages[-2] == {"role": "assistant", "content": [{"type": "text", "text": "All done."}]}
    assert requests[1].user_texts[-1].endswith("and add an index")
    assert run.runner.agents["agent-solo"].summary == "Index added."


TWO = ONE + """
[[agents]]
id = "agent-slow"
role = "frontend"
task = "Form"
"""


def test_a_follow_up_continues_the_conversation(tmp_path: Path) -> None:
    answer: list[str | None] = []

    async def control(runner: Runner, srv: ScriptedAnthropicServer) -> None:
        with anyio.fail_after(20):
            while runner.agents["agent-solo"].status != "completed":
                await anyio.sleep(0.01)
            answer.append(runner.send_message("agent-solo", "now seed the table"))

    script = per_agent({
        "agent-solo": [text("Schema written."), text("Seeds written.")],
        "agent-slow": [text("Form done.", delay=1.5)],  # keeps the run live meanwhile
    })
    run = run_claude(tmp_path, write_spec(tmp_path, TWO), script, control=control)
    assert answer == [None]
    state = run.runner.agents["agent-solo"]
    assert (state.status, state.attempt, state.summary) == ("completed", 2, "Seeds written.")
    first, again = run.requests_of("agent-solo")
    roles = [m["role"] for m in again.messages]
    assert roles == ["user", "assistant", "user"]
    assert again.user_texts[0] == first.user_texts[0]  # the same conversation, from its start
    assert again.messages[1]["content"][0]["text"] == "Schema written."
    assert again.user_texts[-1].startswith("The user follows up on your finished task:\nnow seed the table")
    message = run.of(EventType.AGENT_MESSAGE, "agent-solo")[-1]
    assert message.metadata["delivery"] == "followup" and message.metadata["attempt"] == 2
