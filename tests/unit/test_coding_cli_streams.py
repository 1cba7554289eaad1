"""The Codex and Gemini output parsers, line by line: events, usage (Codex's running total
becomes per-request growth), outcomes, and hostile lines that must never break the agent."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from oneie_tui.agents.base import AgentContext, AgentHost, Usage
from oneie_tui.agents.codex import CodexBackend, CodexStream
from oneie_tui.agents.gemini import GeminiBackend, GeminiStream
from oneie_tui.agents.pricing import load_prices
from oneie_tui.spec.shared_context import render_shared_context
from tests.fakes.process_tools import loaded


class Recorder(AgentHost):
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.usage = Usage()

    def publish(self, type: str, actor: str, *, target: str = "", metadata: dict[str, Any] | None = None) -> Any:
        self.events.append((type, dict(metadata or {})))

    def add_usage(self, agent_id: str, usage: Usage) -> None:
        self.usage.add(usage)

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [m for t, m in self.events if t == kind]


def ctx_for(backend: str, **agent: Any) -> tuple[AgentContext, Recorder]:
    spec = loaded([{"id": "agent-a", "backend": backend, **agent}], backend=backend).spec
    host = Recorder()
    return AgentContext(host, spec, spec.agents[0], "run-1", shared_context=render_shared_context(spec)), host


CODEX_LINES = [
    {"type": "thread.started", "thread_id": "t-1"},
    {"type": "turn.started"},
    {"type": "item.started", "item": {"id": "i0", "type": "command_execution", "command": "bash -c 'make'", "status": "in_progress"}},
    {"type": "item.completed", "item": {"id": "i0", "type": "command_execution", "command": "bash -c 'make'", "aggregated_output": "built\n", "exit_code": 0}},
    {"type": "item.completed", "item": {"id": "i1", "type": "agent_message", "text": "Done.\nAll good."}},
    {"type": "turn.completed", "usage": {"input_tokens": 300, "cached_input_tokens": 100, "output_tokens": 50}},
]


def test_codex_lines_become_session_tool_output_and_priced_usage() -> None:
    ctx, host = ctx_for("codex", model="gpt-5.5")
    stream = CodexStream(ctx, load_prices(), "gpt-5.5")
    for line in CODEX_LINES:
        stream.feed(json.dumps(line))
    assert stream.session_id == "t-1" and stream.started
    assert [m["name"] for m in host.of("agent_tool")] == ["shell"]
    texts = [m["text"] for m in host.of("agent_output")]
    assert "Done." in texts and "All good." in texts and "  ⎿ built" in texts
    (usage,) = host.of("usage")
    assert (usage["input_tokens"], usage["cache_read_tokens"], usage["output_tokens"]) == (200, 100, 50)
    assert usage["cost_usd"] == round((200 * 1.25 + 100 * 0.125 + 50 * 10.0) / 1e6, 6)
    assert stream.outcome is not None and stream.outcome.ok and stream.outcome.summary == "Done.\nAll good."


def test_codex_usage_is_a_running_total_recorded_as_growth() -> None:
    ctx, host = ctx_for("codex")
    stream = CodexStream(ctx, None, None)
    for total in (100, 250, 250, 400):
        stream.feed(json.dumps({"type": "turn.completed", "usage": {"input_tokens": total, "output_tokens": total // 10}}))
    assert [u["input_tokens"] for u in host.of("usage")] == [100, 150, 150]
    assert host.usage.input_tokens == 400 and host.usage.output_tokens == 40


def test_codex_turn_failed_is_a_failure_with_the_clis_message() -> None:
    ctx, _ = ctx_for("codex")
    stream = CodexStream(ctx, None, None)
    stream.feed(json.dumps({"type": "error", "message": "stream disconnected"}))
    stream.feed(json.dumps({"type": "turn.failed", "error": {"message": "unexpected status 500"}}))
    assert stream.outcome is not None and not stream.outcome.ok
    assert stream.outcome.error == "unexpected status 500"


def test_gemini_deltas_become_whole_lines_and_the_result_gives_usage() -> None:
    ctx, host = ctx_for("gemini", model="gemini-2.5-flash")
    stream = GeminiStream(ctx, load_prices(), "gemini-2.5-flash")
    lines = [
        {"type": "init", "session_id": "s-1", "model": "gemini-2.5-flash"},
        {"type": "message", "role": "user", "content": "the brief"},
        {"type": "message", "role": "assistant", "content": "Hel", "delta": True},
        {"type": "message", "role": "assistant", "content": "lo\nwor", "delta": True},
        {"type": "tool_use", "tool_name": "run_shell_command", "tool_id": "x", "parameters": {"command": "ls"}},
        {"type": "tool_result", "tool_id": "x", "status": "error", "output": "denied"},
        {"type": "message", "role": "assistant", "content": "ld", "delta": True},
        {"type": "result", "status": "success", "stats": {"input_tokens": 246, "output_tokens": 90, "cached": 14, "tool_calls": 1}},
    ]
    for line in lines:
        stream.feed(json.dumps(line))
    stream.finish()
    texts = [(m["text"], m["stream"]) for m in host.of("agent_output")]
    assert ("Hello", "stdout") in texts and ("wor", "stdout") in texts and ("ld", "stdout") in texts
    assert ("  ⎿ denied", "stderr") in texts
    assert "the brief" not in [t for t, _ in texts]  # the user's own prompt is not echoed
    (usage,) = host.of("usage")
    assert (usage["input_tokens"], usage["cache_read_tokens"], usage["output_tokens"]) == (232, 14, 90)
    assert stream.session_id == "s-1" and stream.outcome is not None and stream.outcome.ok


def test_gemini_error_result_is_a_failure() -> None:
    ctx, _ = ctx_for("gemini")
    stream = GeminiStream(ctx, None, None)
    stream.feed(json.dumps({"type": "result", "status": "error", "error": {"type": "API", "message": "quota"}}))
    assert stream.outcome is not None and not stream.outcome.ok and stream.outcome.error == "quota"


def test_deep_nesting_is_ignored_with_a_marker_not_fatal() -> None:
    ctx, host = ctx_for("codex")
    stream = CodexStream(ctx, None, None)
    deep = '{"type":"item.completed","item":' * 5000 + "{}" + "}" * 5000
    stream.feed(deep)
    stream.feed("[" * 100_000)
    stream.feed("null")  # plain JSON that is not an event: shown, not marked
    marked = [m["text"] for m in host.of("agent_output")]
    assert marked[-1] == "null" and len(marked) == 3 and all("[ignored: JSON nested deeper than 64 levels]" in m and len(m) < 300 for m in marked[:2])
    assert stream.outcome is None


@given(st.lists(st.one_of(st.text(max_size=200), st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.sampled_from(["type", "item", "usage", "stats", "status", "text", "content", "error"]), kids, max_size=4),
    max_leaves=20,
).map(json.dumps)), max_size=20))
def test_no_line_of_any_shape_breaks_either_parser(lines: list[str]) -> None:
    for make, backend in ((CodexStream, "codex"), (GeminiStream, "gemini")):
        ctx, host = ctx_for(backend)
        stream = make(ctx, load_prices(), None)
        for line in lines:
            stream.feed(line)
        stream.finish()
        assert host.usage.input_tokens >= 0 and host.usage.output_tokens >= 0


def test_codex_argv_points_a_provider_at_base_url_and_sandboxes_the_worktree() -> None:
    ctx, _ = ctx_for("codex", codex={"base_url": "http://127.0.0.1:9/v1/"}, isolation="worktree")
    argv = CodexBackend().argv("codex", ctx, "PROMPT", None, None)
    joined = " ".join(argv)
    assert 'base_url="http://127.0.0.1:9/v1"' in joined and 'env_key="OPENAI_API_KEY"' in joined
    assert argv[argv.index("-s") + 1] == "workspace-write"
    assert argv[-1] == "PROMPT"
    resumed = CodexBackend().argv("codex", ctx, "GO ON", "t-9", None)
    assert resumed[-3:] == ["resume", "t-9", "GO ON"]
    ctx_plain, _ = ctx_for("codex")
    plain = CodexBackend().argv("codex", ctx_plain, "P", None, None)
    assert plain[plain.index("-s") + 1] == "read-only" and "model_provider" not in " ".join(plain)


def test_gemini_argv_chooses_the_session_and_allows_only_signals_outside_yolo() -> None:
    ctx, _ = ctx_for("gemini", isolation="worktree")
    argv = GeminiBackend().argv("gemini", ctx, "P", None, "uuid-1")
    assert argv[argv.index("--approval-mode") + 1] == "auto_edit"
    assert "--allowed-tools=run_shell_command(oneie emit)" in argv
    assert argv[-2:] == ["--session-id", "uuid-1"]
    assert GeminiBackend().argv("gemini", ctx, "P", "uuid-1", None)[-2:] == ["-r", "uuid-1"]
    yolo, _ = ctx_for("gemini", gemini={"approval_mode": "yolo"})
    assert not any(a.startswith("--allowed-tools") for a in GeminiBackend().argv("gemini", yolo, "P", None, None))
