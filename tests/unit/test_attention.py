"""Attention (issue 16 item 2): what makes an agent need the user, from the claude-code
stream-json (the CLI's `permission_denials`, refused tool results, a final question), the
claude backend's final question, and the runner (blocked, failed); the fold keeps it per
agent until a new attempt or a resume; a run completed with denials never reads as a plain
success."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from oneie_tui.agents.attention import asks_question, is_denial
from oneie_tui.agents.base import AgentContext, AgentResult
from oneie_tui.agents.claude_code import StreamJson
from oneie_tui.engine.runner import Runner
from oneie_tui.events import Event, EventType
from oneie_tui.views.metrics import compute
from oneie_tui.views.outcome import run_outcome
from oneie_tui.views.run_view import RunView
from tests.fakes.anthropic_server import per_agent, text
from tests.unit.test_claude_backend import run_claude, write_spec
from tests.unit.test_process_claude_code import _ctx
from tests.unit.test_runner_kit import (
    Driven,
    FakeClock,
    agent_toml,
    drive,
    driven_runner,
    of_type,
    spec_of,
)

A = agent_toml

# Lines of Claude Code 2.1.197 (captured against the scripted server): a Write refused in
# the default permission mode, then a final question.
TOOL_USE = {"type": "assistant", "message": {"id": "msg_1", "role": "assistant", "model": "claude-opus-4-8", "content": [
    {"type": "tool_use", "id": "toolu_3", "name": "Write", "input": {"file_path": "/w/x.txt", "content": "hi\n"}}],
    "usage": {"input_tokens": 10, "output_tokens": 1}}, "session_id": "s-1"}
REFUSED = {"type": "user", "message": {"role": "user", "content": [{"type": "tool_result", "content":
    "Claude requested permissions to write to /w/x.txt, but you haven't granted it yet.", "is_error": True,
    "tool_use_id": "toolu_3"}]}, "session_id": "s-1"}
QUESTION = {"type": "assistant", "message": {"id": "msg_4", "role": "assistant", "model": "claude-opus-4-8", "content": [
    {"type": "text", "text": "I could not write the file.\nShould I try another way?"}],
    "usage": {"input_tokens": 10, "output_tokens": 1}}, "session_id": "s-1"}


def result(denials: list[dict[str, Any]], text_: str = "Should I try another way?") -> dict[str, Any]:
    return {"type": "result", "subtype": "success", "is_error": False, "num_turns": 2, "result": text_,
            "session_id": "s-1", "total_cost_usd": 0.01, "usage": {"input_tokens": 20, "output_tokens": 2},
            "permission_denials": denials}


DENIAL = {"tool_name": "Write", "tool_use_id": "toolu_3", "tool_input": {"file_path": "/w/x.txt", "content": "hi\n"}}


def feed(*lines: dict[str, Any]) -> list[dict[str, Any]]:
    ctx, host = _ctx()
    stream = StreamJson(ctx)
    for line in lines:
        stream.feed(json.dumps(line))
    stream.finish()
    return host.of(EventType.AGENT_ATTENTION)


def test_a_refused_tool_result_is_attention_at_once_with_its_whole_text() -> None:
    found = feed(TOOL_USE, REFUSED)
    assert found == [{"reason": "permission_denied", "tools": ["Write"],
                      "text": "Claude requested permissions to write to /w/x.txt, but you haven't granted it yet."}]


def test_the_result_denials_add_only_the_calls_not_reported_yet() -> None:
    other = {"tool_name": "Bash", "tool_use_id": "toolu_9", "tool_input": {"command": "make test"}}
    found = feed(TOOL_USE, REFUSED, QUESTION, result([DENIAL, other]))
    denied = [f for f in found if f["reason"] == "permission_denied"]
    assert [f["tools"] for f in denied] == [["Write"], ["Bash"]]  # Write once, not twice
    assert "Bash: make test" in denied[1]["text"] and "permission_denials" in denied[1]["text"]


def test_a_result_denial_keeps_the_whole_command() -> None:
    command = "python -c '" + "x = 1; " * 60 + "'"  # longer than a panel line
    found = feed(result([{"tool_name": "Bash", "tool_use_id": "t1", "tool_input": {"command": command}}], "Done."))
    assert f"Bash: {command}" in found[0]["text"]


def test_result_denials_alone_are_reported() -> None:
    found = feed(TOOL_USE, result([DENIAL], "Done."))
    assert [(f["reason"], f["tools"]) for f in found] == [("permission_denied", ["Write"])]
    assert "Write: /w/x.txt" in found[0]["text"]


def test_a_final_question_with_no_tool_call_is_attention() -> None:
    found = feed(TOOL_USE, REFUSED, QUESTION, result([DENIAL]))
    questions = [f for f in found if f["reason"] == "question"]
    assert questions == [{"reason": "question", "tools": [], "text": "I could not write the file.\nShould I try another way?"}]


def test_a_question_before_a_tool_call_or_a_failed_result_is_not() -> None:
    asks_then_acts = {**QUESTION, "message": {**QUESTION["message"], "content": [
        {"type": "text", "text": "Shall I? Yes."}, TOOL_USE["message"]["content"][0]]}}  # type: ignore[index]
    assert [f for f in feed(asks_then_acts, result([], "Shall I?")) if f["reason"] == "question"] == []
    failed = {**result([], "What now?"), "subtype": "error_max_turns", "is_error": True}
    assert feed(QUESTION, failed) == []


def test_a_tool_that_ran_and_failed_is_no_denial() -> None:
    failing = {**REFUSED, "message": {"role": "user", "content": [
        {"type": "tool_result", "content": "Exit code 1\nFAILED tests/test_x.py", "is_error": True, "tool_use_id": "toolu_3"}]}}
    assert feed(TOOL_USE, failing) == []


def test_the_question_heuristic() -> None:
    assert asks_question("Done with the schema.\n\nShould I also add the migration?")
    assert asks_question("Which one do you want: **A** or **B?**")
    assert asks_question("Done. (Was that what you wanted?)")
    assert not asks_question("Why? Because the tests pass.")
    assert not asks_question("")
    assert is_denial("Permission to use Bash has been denied.")
    assert is_denial("Claude requested permissions to use Write, but you haven't granted it yet.")
    assert not is_denial("Error: ENOENT: no such file or directory")


@given(st.text(max_size=300))
def test_the_question_heuristic_is_the_last_line(body: str) -> None:
    lines = [x for x in body.splitlines() if x.strip()]
    assert asks_question(body) == bool(lines and lines[-1].rstrip("*_`\"'»”’)]} \t").endswith(("?", "？")))
    assert asks_question(body + "\nWhat next?")


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)


@given(denials=JSONISH, content=JSONISH, is_error=JSONISH)
def test_hostile_denials_and_tool_results_never_break_the_stream(denials: Any, content: Any, is_error: Any) -> None:
    ctx, host = _ctx()
    stream = StreamJson(ctx)
    stream.feed(json.dumps({"type": "user", "message": {"content": [
        {"type": "tool_result", "tool_use_id": "x", "content": content, "is_error": is_error}]}}))
    stream.feed(json.dumps({**result([]), "permission_denials": denials}))
    for found in host.of(EventType.AGENT_ATTENTION):
        assert found["reason"] in ("permission_denied", "question")
        assert all(isinstance(t, str) for t in found["tools"])


def test_a_key_in_a_denial_is_redacted() -> None:
    refused = {**REFUSED, "message": {"role": "user", "content": [{"type": "tool_result", "is_error": True,
        "tool_use_id": "toolu_3", "content": "Permission to use Bash has been denied: curl -H 'x-api-key: sk-ant-api03-abcdefghijklmnopqrstuvwx'"}]}}
    (found,) = feed(TOOL_USE, refused)
    assert "sk-ant-api03-abcdefghijklmnopqrstuvwx" not in found["text"]


# --- the runner: blocked and failed --------------------------------------------------


class Asking(Driven):
    """Driven agents that can also say they need the user: ("attention", reason, tools)."""

    async def run(self, ctx: AgentContext) -> AgentResult:
        receive = self._pair(ctx.agent_id)[1]
        while True:
            command = await receive.receive()
            if command[0] != "attention":
                return AgentResult(summary="done")
            ctx.attention(command[1], text="refused", tools=command[2])


def test_the_runner_says_blocked_and_failed_agents_need_the_user() -> None:
    spec = spec_of(A("a", emits=["a_ready"]) + A("b") + A("c", after=["a_ready"]), run='on_failure = "continue"')
    runner, backend, _, events = driven_runner(spec)

    async def script() -> None:
        backend.send("a", "fail", "schema broke")
        backend.send("b", "done")

    drive(runner, script)
    found = {e.actor: e.metadata for e in of_type(events, EventType.AGENT_ATTENTION)}
    assert found["a"] == {"reason": "failed", "tools": [], "text": "schema broke"}
    assert found["c"]["reason"] == "blocked" and "a_ready" in found["c"]["text"]
    assert "b" not in found
    view = RunView()
    view.apply_all(events)
    assert [a for a in view.agents if view.agents[a].needs_attention] == ["a", "c"]


def test_denials_make_a_completed_run_say_so_in_its_summary() -> None:
    spec = spec_of(A("a") + A("b"))
    backend, clock = Asking(), FakeClock()
    runner = Runner(spec, lambda _a: backend, monotonic=clock, wall=clock)
    events: list[Event] = []
    runner.bus.subscribe(events.append)

    async def script() -> None:
        backend.send("a", "attention", "permission_denied", ["Write", "Bash"])
        backend.send("a", "done")
        backend.send("b", "done")

    drive(runner, script)
    summary = runner.summary()
    assert runner.status == "completed"
    assert summary["outcome"] == "completed with denials (2 denied)"
    assert {a["id"]: a.get("denials") for a in summary["agents"]} == {"a": 2, "b": None}
    view = RunView()
    view.apply_all(events[:-1])  # before run_finished: the live view says the same
    view.status = "completed"
    assert view.outcome() == "completed with denials (2 denied)"


# --- the fold and the outcome ----------------------------------------------------------


def ev(seq: int, type_: str, actor: str, **md: Any) -> Event:
    return Event(seq, "r", float(seq), type_, actor, "", "", md)


def test_the_fold_keeps_attention_until_a_new_attempt_a_resume_or_a_message() -> None:
    view = RunView()
    view.apply_all([
        ev(1, EventType.AGENT_QUEUED, "a", attempt=1),
        ev(2, EventType.AGENT_STARTED, "a"),
        ev(3, EventType.AGENT_ATTENTION, "a", reason="permission_denied", tools=["Write"], text="w" * 5000),
        ev(4, EventType.AGENT_ATTENTION, "a", reason="question", tools=[], text="Go on?\x1b[2J"),
    ])
    a = view.agents["a"]
    assert a.attention_label() == "needs you: 1 denied, question"
    assert a.attention[0].text == "w" * 5000  # whole: the zoom shows it
    assert "\x1b" not in a.attention[1].text  # through the display boundary
    view.apply(ev(5, EventType.AGENT_PAUSED, "a"))
    assert a.needs_attention
    view.apply(ev(6, EventType.AGENT_RESUMED, "a"))
    assert not a.needs_attention
    view.apply(ev(7, EventType.AGENT_ATTENTION, "a", reason="failed", text="boom"))
    view.apply(ev(8, EventType.AGENT_QUEUED, "a", attempt=2))
    assert not a.needs_attention
    view.apply(ev(9, EventType.AGENT_ATTENTION, "a", reason="question", text="Which db?"))
    assert a.needs_attention
    view.apply(ev(10, EventType.AGENT_MESSAGE, "a", text="postgres", attempt=2, delivery="live"))
    assert not a.needs_attention  # the user answered it


def test_denials_of_an_earlier_attempt_do_not_count() -> None:
    events = [
        ev(1, EventType.AGENT_QUEUED, "a", attempt=1),
        ev(2, EventType.AGENT_ATTENTION, "a", reason="permission_denied", tools=["Write", "Edit"]),
        ev(3, EventType.AGENT_COMPLETED, "a"),
    ]
    assert compute(events).agents["a"].denials == 2
    events += [ev(4, EventType.AGENT_QUEUED, "a", attempt=2), ev(5, EventType.AGENT_COMPLETED, "a")]
    assert compute(events).agents["a"].denials == 0


def test_outcome_words() -> None:
    assert run_outcome("completed", ["completed"], denials=3) == "completed with denials (3 denied)"
    assert run_outcome("failed", ["completed", "cancelled"], denials=1) == "completed with denials (1 cancelled, 1 denied)"
    assert run_outcome("failed", ["failed"], denials=1) == "failed (1 failed, 1 denied)"
    assert run_outcome("completed", ["completed"]) == "completed"  # stored runs read as before
    assert run_outcome("failed", ["completed"], runner_failed=True, denials=2) == "failed (the runner)"


# --- the claude backend: a final question ------------------------------------------------


def test_a_claude_agent_that_ends_on_a_question_needs_the_user(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test-not-a-real-key")
    spec = write_spec(tmp_path, '[run]\nbackend = "claude"\n\n[[agents]]\nid = "agent-a"\n\n[[agents]]\nid = "agent-b"\n')
    script = per_agent({"agent-a": [text("I found two schemas.\nWhich one should I extend?")],
                        "agent-b": [text("All done.")]})
    run = run_claude(tmp_path, spec, script)
    found = {e.actor: e.metadata for e in run.of(EventType.AGENT_ATTENTION)}
    assert found == {"agent-a": {"reason": "question", "tools": [], "text": "I found two schemas.\nWhich one should I extend?"}}


def test_the_headless_summary_has_a_denied_column_only_when_some_were() -> None:
    from rich.console import Console

    from oneie_tui.commands.headless import summary_table

    agent = {"id": "a", "status": "completed", "started_s": 0.0, "ended_s": 1.0, "active_s": 1.0,
             "input_tokens": 1, "output_tokens": 1, "cache_write_tokens": 0, "cache_read_tokens": 0, "cost_usd": 0.0}
    summary = {"run_id": "r", "status": "completed", "outcome": "completed with denials (2 denied)",
               "sequential_s": 1.0, "wall_s": 1.0, "speedup": 1.0, "utilization": 1.0, "critical_path_s": 1.0,
               "cost_usd": 0.0, "agents": [{**agent, "denials": 2}, {**agent, "id": "b"}]}
    console = Console(width=160, record=True)
    console.print(summary_table(summary))
    shown = console.export_text()
    assert "completed with denials (2 denied)" in shown and "denied" in shown.splitlines()[2]
    console = Console(width=160, record=True)
    console.print(summary_table({**summary, "outcome": "completed", "agents": [agent]}))
    assert "denied" not in console.export_text()
