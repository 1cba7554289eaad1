"""The `claude` backend end to end: the real SDK against the scripted server on 127.0.0.1,
runs built through `session.build_runner` exactly as the CLI builds them."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest

from oneie_tui.agents.base import BackendOptions
from oneie_tui.agents.pricing import bundled_prices, cache_savings
from oneie_tui.engine.runner import Runner
from oneie_tui.engine.session import RunOptions, SetupError, build_runner
from oneie_tui.events import Event
from oneie_tui.spec.loader import load_spec
from oneie_tui.store.sqlite import RunStore
from tests.fakes.anthropic_server import (
    RecordedRequest,
    Reply,
    Script,
    ScriptedAnthropicServer,
    Usage,
    emit_event,
    finish,
    per_agent,
    report_progress,
    text,
    wait_for_events,
)

ROOT = Path(__file__).resolve().parents[2]
SECRET = "sk-ant-TESTSECRET"

Control = Callable[[Runner, ScriptedAnthropicServer], Coroutine[Any, Any, None]]


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
    return SECRET


@dataclass
class ClaudeRun:
    runner: Runner
    server: ScriptedAnthropicServer
    events: list[Event]
    store_path: Path

    def of(self, type_: str, actor: str | None = None) -> list[Event]:
        return [e for e in self.events if e.type == type_ and (actor is None or e.actor == actor)]

    def output(self, actor: str) -> list[str]:
        return [str(e.metadata["text"]) for e in self.of("agent_output", actor)]

    def status(self, actor: str) -> tuple[str, str]:
        state = self.runner.agents[actor]
        return state.status, state.reason

    def requests_of(self, agent: str) -> list[RecordedRequest]:
        return [
            r
            for r in self.server.message_requests()
            if r.user_texts[:1] and r.user_texts[0].startswith(agent + ":")
        ]


def write_spec(tmp_path: Path, body: str, name: str = "spec.toml") -> Path:
    header = (
        '[feature]\nname = "Course CRUD"\ndescription = "Courses with lessons."\n'
        'acceptance = ["Users can create courses"]\n\n'
    )
    path = tmp_path / name
    path.write_text(header + body, encoding="utf-8")
    return path


def run_claude(
    tmp_path: Path,
    spec_path: Path,
    script: Script,
    *,
    control: Control | None = None,
    default: Reply | None = None,
    project_dir: str | None = None,
) -> ClaudeRun:
    loaded = load_spec(spec_path)
    store_path = tmp_path / "store" / "runs.sqlite3"
    store_path.parent.mkdir(exist_ok=True)
    events: list[Event] = []
    with ScriptedAnthropicServer(script, default=default) as srv:
        store = RunStore(store_path)
        try:
            runner = build_runner(
                loaded, RunOptions(backend_options=BackendOptions(base_url=srv.base_url, project_dir=project_dir)), store
            )
            runner.bus.subscribe(events.append)

            async def main() -> None:
                async with anyio.create_task_group() as tg:
                    if control is not None:
                        tg.start_soon(control, runner, srv)
                    await runner.run()  # then the control task finishes on its own

            anyio.run(main)
        finally:
            store.close()
    return ClaudeRun(runner, srv, events, store_path)


THREE_AGENTS = """
[run]
backend = "claude"

[[agents]]
id = "agent-backend"
role = "backend"
task = "Schema, mutations, queries"
emits = ["schema_ready", "backend_ready"]

[[agents]]
id = "agent-frontend"
role = "frontend"
task = "Course list and form"
after = ["schema_ready"]
emits = ["frontend_ready"]

[[agents]]
id = "agent-quality"
role = "quality"
task = "Tests, then validate"
emits = ["tests_defined"]
"""


def three_agent_script() -> Script:
    return per_agent(
        {
            "agent-backend": [
                emit_event(
                    "schema_ready",
                    {"tables": ["courses", "lessons"]},
                    text="Designing the schema.\nTables: courses, lessons.\n",
                ),
                report_progress(60, "mutations"),
                emit_event("backend_ready"),
                finish("backend done"),
            ],
            "agent-frontend": [
                emit_event("frontend_ready", text="Building the course list.\n"),
                finish("frontend done"),
            ],
            "agent-quality": [
                emit_event("tests_defined"),
                wait_for_events(["backend_ready", "frontend_ready"]),
                finish("validated", text="All acceptance criteria pass.\n"),
            ],
        }
    )


def test_three_agents_share_one_cached_context_and_coordinate(tmp_path: Path) -> None:
    run = run_claude(tmp_path, write_spec(tmp_path, THREE_AGENTS), three_agent_script())

    assert {a: run.status(a)[0] for a in run.runner.agents} == dict.fromkeys(
        run.runner.agents, "completed"
    )
    assert run.runner.status == "completed"

    # The shared context: byte-identical first system block, cached, in every request.
    requests = run.server.message_requests()
    assert len(requests) == 4 + 2 + 3
    firsts = {r.system_blocks[0]["text"] for r in requests}
    assert len(firsts) == 1
    assert all(r.system_blocks[0]["cache_control"] == {"type": "ephemeral"} for r in requests)
    shared = firsts.pop()
    for agent in ("agent-backend", "agent-frontend", "agent-quality"):
        assert agent in shared  # the roster
        brief = run.requests_of(agent)[0].system_blocks[1]["text"]
        assert brief.startswith(f"You are {agent}")
        assert "cache_control" not in run.requests_of(agent)[0].system_blocks[1]
    assert "Schema, mutations, queries" in shared

    # Tool schemas: the four coordination tools, identical for every agent.
    schemas = {repr(r.body["tools"]) for r in requests}
    assert len(schemas) == 1
    assert requests[0].tool_names == ["emit_event", "report_progress", "wait_for_events", "finish"]
    wait_tool = requests[0].body["tools"][2]
    assert wait_tool["input_schema"]["properties"]["mode"]["enum"] == ["all", "any"]
    assert all(r.body["stream"] is True for r in requests)
    assert all(
        r.headers["authorization"] == f"Bearer {SECRET}" or r.headers.get("x-api-key") == SECRET
        for r in requests
    )
    assert {r.body["model"] for r in requests} == {"claude-sonnet-5-5"}

    # The frontend starts only after the backend's schema_ready.
    seq_of = {(e.type, e.actor, e.action): e.seq for e in run.events}
    schema_ready = seq_of[("task_event", "agent-backend", "schema_ready")]
    assert seq_of[("agent_started", "agent-frontend", "")] > schema_ready
    frontend_first = run.requests_of("agent-frontend")[0]
    backend_emit = run.requests_of("agent-backend")[0]  # the turn that called emit_event
    assert frontend_first.received_at > backend_emit.finished_at  # type: ignore[operator]

    # Tool results go back to the model; the wait returns what fired.
    quality_after_wait = run.requests_of("agent-quality")[2]
    result = quality_after_wait.tool_results[-1]
    assert '"backend_ready"' in result["content"] and '"frontend_ready"' in result["content"]
    waits = [e for e in run.of("agent_waiting", "agent-quality") if e.metadata.get("waiting_for")]
    assert waits and waits[0].metadata["waiting_for"] == ["backend_ready", "frontend_ready"]

    # Every tool call is an agent_tool event and a panel line.
    tools = [(e.actor, e.metadata["name"]) for e in run.of("agent_tool")]
    assert tools.count(("agent-backend", "emit_event")) == 2
    assert ("agent-quality", "wait_for_events") in tools
    assert any(line.startswith("⚙ emit_event") for line in run.output("agent-backend"))
    # Text arrives as panel lines, not tokens.
    assert "Tables: courses, lessons." in run.output("agent-backend")
    assert [e.metadata["percent"] for e in run.of("agent_progress", "agent-backend")] == [
        0,
        60,
        100,
    ]

    # The stored event sequence is the live one.
    store = RunStore(run.store_path)
    try:
        stored = list(store.events(run.runner.run_id))
    finally:
        store.close()
    assert [(e.seq, e.type, e.actor) for e in stored] == [
        (e.seq, e.type, e.actor) for e in run.events
    ]
    assert [e.seq for e in stored] == list(range(1, len(stored) + 1))


def test_warmup_sends_the_first_request_alone(tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path,
        '[run]\nbackend = "claude"\n'
        + "".join(f'\n[[agents]]\nid = "agent-{i}"\ntask = "part {i}"\n' for i in range(4)),
    )
    # The leader's stream is slow, so followers launched too early would be visible.
    script = per_agent(
        {f"agent-{i}": [text("a", "b", "c", chunk_delay=0.05 if i == 0 else 0)] for i in range(4)}
    )
    run = run_claude(tmp_path, spec, script, default=finish("done"))
    firsts = [run.requests_of(f"agent-{i}")[0] for i in range(4)]
    leader = min(firsts, key=lambda r: r.received_at)
    followers = [r for r in firsts if r is not leader]
    assert leader.stream_started_at is not None
    assert all(r.received_at >= leader.stream_started_at for r in followers)
    # ...so the leader writes the cache and every follower reads it.
    assert run.of("usage")  # usage recorded per turn
    first_usage = {e.actor: e for e in run.of("usage") if e.metadata["turn"] == 1}
    leader_id = next(
        e.actor for e in run.of("agent_info") if e.metadata.get("cache_warmup") == "leader"
    )
    assert first_usage[leader_id].metadata["cache_write_tokens"] > 0
    for agent, e in first_usage.items():
        if agent != leader_id:
            assert e.metadata["cache_read_tokens"] > 0 and e.metadata["cache_write_tokens"] == 0
    savings = cache_savings(run.events)
    assert savings.saved_tokens == sum(e.metadata["cache_read_tokens"] for e in run.of("usage"))
    assert savings.saved_usd > 0


def test_without_warmup_simultaneous_requests_all_write_the_cache(tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path,
        '[run]\nbackend = "claude"\n'
        + "".join(
            f'\n[[agents]]\nid = "agent-{i}"\ntask = "part {i}"\nclaude = {{ warmup = false }}\n'
            for i in range(3)
        ),
    )
    # Each reply is held back a little so all three requests are in flight together.
    script = per_agent(
        {f"agent-{i}": [Reply(kind="turn", delay=0.3, blocks=text("x").blocks)] for i in range(3)}
    )
    run = run_claude(tmp_path, spec, script, default=finish("done"))
    firsts = [run.requests_of(f"agent-{i}")[0] for i in range(3)]
    assert not run.of("agent_info") or not any(
        e.metadata.get("cache_warmup") for e in run.of("agent_info")
    )
    assert max(r.received_at for r in firsts) < min(r.stream_started_at or 0 for r in firsts)
    turn1 = [e for e in run.of("usage") if e.metadata["turn"] == 1]
    assert all(e.metadata["cache_write_tokens"] > 0 for e in turn1)


def test_costs_come_from_the_price_table(tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path, '[run]\nbackend = "claude"\nmodel = "haiku"\n\n[[agents]]\nid = "agent-a"\n'
    )
    usage = Usage(
        input_tokens=1000,
        output_tokens=500,
        cache_creation_input_tokens=2000,
        cache_read_input_tokens=0,
    )
    usage2 = Usage(
        input_tokens=100,
        output_tokens=100,
        cache_creation_input_tokens=0,
        cache_read_input_tokens=2000,
    )
    run = run_claude(
        tmp_path, spec, [emit_event("course_created", usage=usage), finish("done", usage=usage2)]
    )
    assert run.status("agent-a")[0] == "completed"
    price = bundled_prices().lookup("claude-haiku-4-5")
    assert price is not None and price.input == 1.0
    u1, u2 = (e.metadata for e in run.of("usage"))
    assert u1["model"] == "claude-haiku-4-5"
    assert u1["cost_usd"] == pytest.approx((1000 * 1.0 + 500 * 5.0 + 2000 * 1.25) / 1e6)
    assert u2["cost_usd"] == pytest.approx((100 * 1.0 + 100 * 5.0 + 2000 * 0.1) / 1e6)
    total = run.runner.agents["agent-a"].usage
    assert total.cost_usd == pytest.approx(u1["cost_usd"] + u2["cost_usd"])
    assert (
        total.input_tokens,
        total.output_tokens,
        total.cache_write_tokens,
        total.cache_read_tokens,
    ) == (
        1100,
        600,
        2000,
        2000,
    )
    # Saving vs. no caching: all 4000 cached tokens at the plain input price instead.
    savings = cache_savings(run.events)
    uncached = (1100 + 2000 + 2000) * 1.0 / 1e6 + 600 * 5.0 / 1e6
    assert savings.saved_usd == pytest.approx(uncached - total.cost_usd)
    assert savings.saved_tokens == 2000
    info = [e for e in run.of("agent_info") if "saved_usd" in e.metadata][-1]
    assert info.metadata["saved_usd"] == pytest.approx(savings.saved_usd, abs=1e-6)
    assert run.runner.summary()["cost_usd"] == pytest.approx(total.cost_usd, abs=1e-6)


def test_user_price_override(tmp_path: Path, isolated_dirs: Path) -> None:
    from oneie_tui import paths

    cfg = paths.config_file()
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text('[prices."claude-sonnet-5-5"]\ninput = 100.0\noutput = 0.0\n', encoding="utf-8")
    spec = write_spec(
        tmp_path,
        '[run]\nbackend = "claude"\n\n[[agents]]\nid = "agent-a"\nclaude = { cache = false }\n',
    )
    run = run_claude(
        tmp_path, spec, [finish("done", usage=Usage(input_tokens=10_000, output_tokens=5))]
    )
    assert run.of("usage")[0].metadata["cost_usd"] == pytest.approx(1.0)


def test_missing_key_fails_before_any_agent_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    loaded = load_spec(write_spec(tmp_path, THREE_AGENTS))
    with pytest.raises(SetupError, match="ANTHROPIC_API_KEY is not set") as err:
        build_runner(loaded, RunOptions(), None)
    assert "\n" not in str(err.value)


def test_bad_base_url_is_refused(tmp_path: Path) -> None:
    loaded = load_spec(write_spec(tmp_path, THREE_AGENTS))
    with pytest.raises(SetupError, match="base URL"):
        build_runner(loaded, RunOptions(backend_options=BackendOptions(base_url="ftp:/nowhere")), None)


def test_profile_sets_role_prompt_and_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    agents = tmp_path / ".claude" / "agents"
    agents.mkdir(parents=True)
    (agents / "agent-backend.md").write_text(
        "---\nname: agent-backend\ndescription: Backend specialist\nmodel: opus\ncolor: blue\n---\n"
        "You build Convex schemas with care.\n",
        encoding="utf-8",
    )
    spec = write_spec(
        tmp_path,
        '[run]\nbackend = "claude"\n\n[[agents]]\nid = "agent-backend"\nrole = "backend"\n'
        'profile = ".claude/agents/agent-backend.md"\n',
    )
    run = run_claude(tmp_path, spec, [finish("done")])
    req = run.server.message_requests()[0]
    assert "You build Convex schemas with care." in req.system_blocks[1]["text"]
    assert req.body["model"] == "claude-opus-5-5"


def test_profile_outside_the_project_is_refused_before_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    monkeypatch.chdir(project)
    (tmp_path / "evil.md").write_text("---\nname: x\n---\nbad", encoding="utf-8")
    spec = write_spec(
        project, '[run]\nbackend = "claude"\n\n[[agents]]\nid = "a"\nprofile = "../evil.md"\n'
    )
    with pytest.raises(SetupError, match="outside the project folder"):
        build_runner(load_spec(spec), RunOptions(), None)


def test_max_turns_without_finish_fails(tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path, '[run]\nbackend = "claude"\n\n[[agents]]\nid = "a"\nclaude = { max_turns = 2 }\n'
    )
    run = run_claude(tmp_path, spec, [report_progress(10), report_progress(20), finish("never")])
    assert run.status("a") == ("failed", "reached max_turns (2) without calling finish")
    assert len(run.server.message_requests()) == 2


def test_finish_failed_fails_the_agent_and_end_turn_completes(tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path,
        '[run]\nbackend = "claude"\non_failure = "continue"\n\n[[agents]]\nid = "agent-a"\n\n[[agents]]\nid = "agent-b"\n',
    )
    script = per_agent(
        {
            "agent-a": [finish("could not build it", status="failed")],
            "agent-b": [text("All done.\n")],
        }
    )
    run = run_claude(tmp_path, spec, script)
    assert run.status("agent-a") == ("failed", "could not build it")
    assert run.status("agent-b")[0] == "completed"
    assert run.of("agent_completed", "agent-b")[0].metadata["summary"] == "All done."


def test_wait_for_events_timeout_returns_to_the_model(tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path,
        '[run]\nbackend = "claude"\nmax_parallel = 1\n\n[[agents]]\nid = "agent-a"\n'
        '\n[[agents]]\nid = "agent-b"\nemits = ["late_event"]\n',
    )
    script = per_agent(
        {
            "agent-a": [wait_for_events(["late_event"], timeout=0.2), finish("gave up waiting")],
            # agent-b's event comes long after agent-a's timeout.
            "agent-b": [emit_event("late_event", delay=1.0), finish("b done")],
        }
    )
    run = run_claude(tmp_path, spec, script)
    assert run.status("agent-a")[0] == "completed"
    second = run.requests_of("agent-a")[1]
    assert '"timed_out": true' in second.tool_results[-1]["content"]
    # The slot came back after the timeout: agent-a resumed running and finished.
    assert run.of("agent_resumed", "agent-a")


def test_finish_before_emitting_declared_events_is_answered_with_a_reminder_once(
    tmp_path: Path,
) -> None:
    spec = write_spec(
        tmp_path,
        '[run]\nbackend = "claude"\n\n[[agents]]\nid = "agent-a"\nemits = ["schema_ready"]\n'
        '\n[[agents]]\nid = "agent-b"\nafter = ["schema_ready"]\n',
    )
    script = per_agent(
        {
            "agent-a": [finish("done early"), emit_event("schema_ready"), finish("done")],
            "agent-b": [finish("b done")],
        }
    )
    run = run_claude(tmp_path, spec, script)
    assert run.status("agent-a")[0] == "completed" and run.status("agent-b")[0] == "completed"
    reminder = run.requests_of("agent-a")[1].tool_results[-1]
    assert reminder["is_error"] is True and "emit schema_ready first" in reminder["content"]
    assert run.of("agent_completed", "agent-a")[0].metadata["summary"] == "done"


def test_finish_is_accepted_the_second_time_even_without_the_event(tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path,
        '[run]\nbackend = "claude"\n\n[[agents]]\nid = "agent-a"\nemits = ["schema_ready"]\n',
    )
    run = run_claude(tmp_path, spec, [finish("no"), finish("really done")])
    assert run.status("agent-a")[0] == "completed"
    assert len(run.server.message_requests()) == 2


def test_the_conversation_prefix_is_cached_turn_by_turn(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, '[run]\nbackend = "claude"\n\n[[agents]]\nid = "agent-a"\n')
    run = run_claude(tmp_path, spec, [report_progress(10), report_progress(50), finish("done")])
    for req in run.server.message_requests():
        marked = [
            (i, j)
            for i, m in enumerate(req.messages)
            if isinstance(m["content"], list)
            for j, b in enumerate(m["content"])
            if "cache_control" in b
        ]
        last = len(req.messages) - 1
        assert marked == [(last, len(req.messages[last]["content"]) - 1)]
        assert sum("cache_control" in b for b in req.system_blocks) == 1
    # cache_control = false: nothing is marked at all.
    spec2 = write_spec(
        tmp_path,
        '[run]\nbackend = "claude"\n\n[[agents]]\nid = "agent-a"\nclaude = { cache = false }\n',
        "s2.toml",
    )
    (tmp_path / "second").mkdir()
    run2 = run_claude(tmp_path / "second", spec2, [report_progress(10), finish("done")])
    assert "cache_control" not in repr([r.body for r in run2.server.message_requests()])


def test_a_tool_call_cut_off_by_max_tokens_is_answered_as_an_error(tmp_path: Path) -> None:
    from tests.fakes.anthropic_server import ToolUseBlock, turn

    spec = write_spec(tmp_path, '[run]\nbackend = "claude"\n\n[[agents]]\nid = "a"\n')
    cut = turn([ToolUseBlock(name="report_progress", input={"percent": 5}, id="toolu_cut")], stop_reason="max_tokens")
    run = run_claude(tmp_path, spec, [cut, finish("done")])
    assert run.status("a")[0] == "completed"
    second = run.server.message_requests()[1].body["messages"]
    assert second[-2]["role"] == "assistant"
    answer = second[-1]
    assert answer["role"] == "user"
    results = [b for b in answer["content"] if b["type"] == "tool_result"]
    # The API refuses a tool_use without its tool_result: the cut call is answered.
    assert [(r["tool_use_id"], r["is_error"]) for r in results] == [("toolu_cut", True)]
    last = answer["content"][-1]
    assert (last["type"], last["text"]) == ("text", "Continue.")  # (it carries the cache mark)
