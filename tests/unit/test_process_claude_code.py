"""The claude-code backend's parts that need no CLI: stream-json parsing (on a captured run
of the real CLI), the argv it builds, finding the CLI, and refusing what cannot work."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

from oneie_tui.agents.base import AgentContext, AgentHost, BackendOptions, Usage
from oneie_tui.agents.claude_code import (
    ClaudeCodeMissing,
    StreamJson,
    build_argv,
    build_prompt,
    find_cli,
    load_profiles,
    model_of,
    short_input,
)
from oneie_tui.engine.session import RunOptions, SetupError, build_runner
from oneie_tui.spec.shared_context import render_shared_context
from tests.fakes.process_tools import loaded

# A real run of Claude Code 2.1.197 against a scripted server (from the project's reference).
SAMPLE = Path(__file__).resolve().parents[1] / "fakes/data/claude-code-stream-json.sample.jsonl"


class Recorder(AgentHost):
    """Stands in for the runner behind an AgentContext."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.usage = Usage()

    def publish(self, type: str, actor: str, *, target: str = "", metadata: dict[str, Any] | None = None) -> Any:
        self.events.append((type, dict(metadata or {})))
        return None

    def add_usage(self, agent_id: str, usage: Usage) -> None:
        self.usage.add(usage)

    def set_progress(self, agent_id: str, percent: float) -> None:
        pass

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [m for t, m in self.events if t == kind]


def _ctx(agents: list[dict[str, Any]] | None = None, agent: int = 0) -> tuple[AgentContext, Recorder]:
    spec = loaded(agents or [{"id": "agent-backend", "emits": ["schema_ready"], "backend": "claude-code"}]).spec
    host = Recorder()
    ctx = AgentContext(host, spec, spec.agents[agent], "run-1", shared_context=render_shared_context(spec))  # type: ignore[arg-type]
    return ctx, host


def test_stream_json_becomes_output_tools_usage_and_session() -> None:
    lines = SAMPLE.read_text().splitlines()
    ctx, host = _ctx()
    stream = StreamJson(ctx)
    for line in lines:
        stream.feed(line)
    stream.finish()
    assert stream.session_id and host.of("agent_info")[0]["session_id"] == stream.session_id
    tools = host.of("agent_tool")
    assert [(t["name"], t["input"]) for t in tools] == [("Bash", "echo schema_ready > out.txt && echo done")]
    texts = [m["text"] for m in host.of("agent_output")]
    assert "→ Bash: echo schema_ready > out.txt && echo done" in texts
    assert "  ⎿ done" in texts and "Wrote out.txt." in texts
    # Totals equal the CLI's final figures, though each response was counted live.
    assert host.usage.input_tokens == 100 and host.usage.output_tokens == 25
    assert host.usage.cost_usd == pytest.approx(0.001125)
    live = [m for m in host.of("usage") if m.get("source") == "stream"]
    assert [m["input_tokens"] for m in live] == [50, 50]  # two responses (a tool result between)
    assert stream.result is not None and stream.result["num_turns"] == 2


def test_repeated_lines_of_one_response_are_counted_once() -> None:
    ctx, host = _ctx()
    stream = StreamJson(ctx)
    block = '{"type": "assistant", "message": {"id": "m1", "model": "x", "content": [{"type": "text", "text": "%s"}], "usage": {"input_tokens": 10, "output_tokens": %d}}}'
    stream.feed(block % ("a", 1))
    stream.feed(block % ("b", 1))
    stream.feed(block % ("c", 4))
    assert host.usage.input_tokens == 10 and host.usage.output_tokens == 4
    stream.feed("not json at all")
    stream.feed("[1, 2]")
    texts = [m["text"] for m in host.of("agent_output")]
    assert texts == ["a", "b", "c", "not json at all", "[1, 2]"]


def test_argv_takes_the_spec_options_and_keeps_the_prompt_one_argument() -> None:
    ctx, _ = _ctx(
        [
            {
                "id": "agent-backend",
                "model": "claude-sonnet-4-5",
                "emits": ["schema_ready"],
                "claude_code": {
                    "max_turns": 7,
                    "allowed_tools": ["Bash", "Edit"],
                    "permission_mode": "acceptEdits",
                    "extra_args": ["--effort", "low"],
                },
            }
        ]
    )
    ctx.workdir = "/tmp/wt"
    prompt = build_prompt(ctx)
    argv = build_argv("/bin/claude", ctx, prompt, None, model_of(ctx, None))
    assert argv[:6] == ["/bin/claude", "-p", prompt, "--output-format", "stream-json", "--verbose"]
    assert argv[argv.index("--model") + 1] == "claude-sonnet-4-5"
    assert argv[argv.index("--max-turns") + 1] == "7"
    assert "--allowedTools=Bash,Edit,Bash(oneie emit:*),Bash(oneie progress:*)" in argv
    assert argv[argv.index("--permission-mode") + 1] == "acceptEdits"
    assert argv[-2:] == ["--effort", "low"] and "--resume" not in argv
    assert prompt.startswith("# Feature: Process test")
    assert "You are agent-backend," in prompt and "oneie emit EVENT_NAME" in prompt
    assert "Your events: schema_ready." in prompt and "/tmp/wt" in prompt
    resumed = build_argv("/bin/claude", ctx, build_prompt(ctx, resuming=True), "sess-1")
    assert resumed[resumed.index("--resume") + 1] == "sess-1"
    assert resumed[2].startswith("You were interrupted")


def test_profile_gives_the_role_prompt_and_model(tmp_path: Path) -> None:
    agents_dir = tmp_path / ".claude/agents"
    agents_dir.mkdir(parents=True)
    (agents_dir / "schema-expert.md").write_text("---\nname: schema-expert\nmodel: opus\n---\nYou design schemas carefully.\n")
    agents = [{"id": "agent-backend", "backend": "claude-code", "profile": ".claude/agents/schema-expert.md"}]
    ctx, _ = _ctx(agents)
    profile = load_profiles(ctx.spec, tmp_path)["agent-backend"]
    prompt = build_prompt(ctx, profile.prompt)
    assert "You design schemas carefully." in prompt and "name: schema-expert" not in prompt
    assert model_of(ctx, profile) == "opus"
    with pytest.raises(ValueError, match="outside the project folder"):
        load_profiles(loaded([{**agents[0], "profile": "../x.md"}]).spec, tmp_path)


def test_short_input_says_what_a_tool_does() -> None:
    assert short_input("Bash", {"command": "ls\n  -la"}) == "ls -la"
    assert short_input("Write", {"file_path": "/a/b.py", "content": "x" * 999}) == "/a/b.py"
    assert len(short_input("Other", {"blob": "y" * 999})) == 160


def _fake_cli(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "claude"
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_cli_is_found_on_path_then_in_node_modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ClaudeCodeMissing, match=r"npm install @anthropic-ai/claude-code"):
        find_cli(None, tmp_path)
    local = _fake_cli(tmp_path / "node_modules/.bin")
    assert find_cli(None, tmp_path) == str(local)
    on_path = _fake_cli(tmp_path / "bin")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    assert find_cli(None, tmp_path) == str(on_path)
    with pytest.raises(ClaudeCodeMissing, match="not found at /nope/claude"):
        find_cli("/nope/claude", tmp_path)


def test_missing_cli_refuses_the_run_with_install_advice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.chdir(tmp_path)
    spec = loaded([{"id": "a"}], backend="claude-code")
    with pytest.raises(SetupError, match=r"npm install @anthropic-ai/claude-code"):
        build_runner(spec, RunOptions(backend_options=BackendOptions(project_dir=str(tmp_path))), None)


def test_bypass_permissions_as_root_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    _fake_cli(tmp_path / "node_modules/.bin")
    spec = loaded([{"id": "a", "claude_code": {"permission_mode": "bypassPermissions"}}], backend="claude-code")
    with pytest.raises(SetupError, match="refuses .*bypassPermissions.* as root"):
        build_runner(spec, RunOptions(backend_options=BackendOptions(project_dir=str(tmp_path))), None)


def test_a_resumed_run_hands_unfinished_sessions_to_the_backend(tmp_path: Path) -> None:
    from oneie_tui.agents.claude_code import ClaudeCodeBackend
    from oneie_tui.engine.run_support import hooks_for
    from oneie_tui.events import Event
    from oneie_tui.store.sqlite import RunStore

    store = RunStore(tmp_path / "runs.sqlite3")
    try:
        store.create_run("run-9", "x", "", None, 1.0)
        store.insert_events(
            [
                Event(1, "run-9", 1.0, "agent_info", "a", metadata={"session_id": "sess-a"}),
                Event(2, "run-9", 1.1, "agent_info", "b", metadata={"session_id": "sess-b"}),
                Event(3, "run-9", 1.2, "agent_info", "b", metadata={"session_id": "sess-b", "session_done": True}),
            ]
        )
        spec = loaded([{"id": "a"}, {"id": "b"}], backend="claude-code").spec
        options = BackendOptions(project_dir=str(tmp_path))
        hooks_for(spec, "run-9", options, store)
    finally:
        store.close()
    assert options.resume_sessions == {"a": "sess-a"}  # b finished its session: not resumed
    assert options.finished_sessions == {"b": "sess-b"}  # but a follow-up to b continues it
    backend = ClaudeCodeBackend()
    backend.configure(spec, options)
    assert backend.sessions == {"a": "sess-a"} and backend.finished == {"b": "sess-b"}
