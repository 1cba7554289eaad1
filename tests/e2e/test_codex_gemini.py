"""The `codex` and `gemini` backends end to end: the real Codex and Gemini CLIs (installed
by `make test` from package.json), each pointed at a scripted model server on 127.0.0.1,
run real shell tools in per-agent git worktrees, coordinate through `oneie emit`, record
usage and resume their sessions. These tests never skip."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from oneie_tui.engine.runner import Runner
from oneie_tui.engine.session import SetupError
from oneie_tui.store.sqlite import RunStore
from tests.fakes.anthropic_server import ScriptedAnthropicServer, bash, text
from tests.fakes.claude_code_script import by_agent_and_step, claude_cli
from tests.fakes.cli_servers import (
    RecordedRequest,
    Reply,
    ScriptedGeminiServer,
    ScriptedResponsesServer,
    codex_per_agent,
    gemini_per_agent,
    gemini_user_text,
    responses_user_text,
    say,
    shell,
    tool_outputs,
)
from tests.fakes.process_tools import (
    alive,
    git_repo,
    group_members,
    loaded,
    of_type,
    outputs,
    proc_stat,
    run_spec,
    status_of,
    wait_until,
)

pytestmark = [pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


def cli_path(name: str) -> str:
    found = shutil.which(name) or str(ROOT / "node_modules" / ".bin" / name)
    assert Path(found).exists(), f"{name} is missing: `make test` installs it (package.json)"
    return found


@pytest.fixture(autouse=True)
def offline_clis(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-fake-openai")
    monkeypatch.setenv("GEMINI_API_KEY", "fake-gemini-key")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test-not-a-real-key")
    monkeypatch.setenv("CODEX_HOME", str(tmp_path / "home" / ".codex"))
    (tmp_path / "home" / ".codex").mkdir(parents=True, exist_ok=True)


def codex_agent(agent_id: str, url: str, **kw: Any) -> dict[str, Any]:
    return {
        "id": agent_id, "role": "backend", "task": f"write {agent_id}.txt, then signal",
        "backend": "codex", "model": "gpt-5.5",
        "codex": {"cli": cli_path("codex"), "base_url": url}, **kw,
    }


def gemini_agent(agent_id: str, url: str, **kw: Any) -> dict[str, Any]:
    return {
        "id": agent_id, "role": "frontend", "task": f"write {agent_id}.txt, then signal",
        "backend": "gemini", "model": "gemini-2.5-flash",
        "gemini": {"cli": cli_path("gemini"), "base_url": url, "approval_mode": "yolo"}, **kw,
    }


def files_of(repo: Path, run_id: str, agent: str) -> list[str]:
    wt = repo / ".oneie/worktrees" / run_id / agent
    return sorted(p.name for p in wt.iterdir() if p.name != ".git")


def test_a_mixed_squad_of_claude_code_codex_and_gemini_coordinates_by_events(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo")
    store = RunStore(tmp_path / "runs.sqlite3")
    codex_script = {"agent-api": [
        shell("echo api > agent-api.txt"),
        shell("oneie emit schema_ready --json '{\"tables\": 3}'"),
        say("The schema is ready."),
    ]}
    gemini_script = {"agent-ui": [
        shell("echo ui > agent-ui.txt"),
        shell("oneie emit ui_ready"),
        say("The forms are ready."),
    ]}
    claude_script = {"agent-docs": [bash("echo docs > agent-docs.txt"), bash("oneie emit docs_ready"), text("Docs done.")]}
    try:
        with ScriptedResponsesServer(codex_per_agent(codex_script)) as openai, \
                ScriptedGeminiServer(gemini_per_agent(gemini_script)) as gemini, \
                ScriptedAnthropicServer(by_agent_and_step(claude_script)) as anthropic:
            spec = loaded(
                [
                    codex_agent("agent-api", openai.api_url, emits=["schema_ready"]),
                    gemini_agent("agent-ui", gemini.base_url, emits=["ui_ready"], after=["schema_ready"]),
                    {
                        "id": "agent-docs", "role": "documenter", "task": "write agent-docs.txt",
                        "backend": "claude-code", "emits": ["docs_ready"], "after": ["ui_ready"],
                        "claude_code": {"cli": claude_cli(), "allowed_tools": ["Bash"], "max_turns": 8},
                    },
                ],
                backend="codex",
                isolation="worktree",
            )
            runner, events = run_spec(spec, repo, store=store, base_url=anthropic.base_url)
            codex_requests = openai.model_requests()
            gemini_requests = gemini.model_requests()
        stored = list(store.events(runner.run_id))
    finally:
        store.close()

    for agent in ("agent-api", "agent-ui", "agent-docs"):
        assert status_of(events, agent) == "completed", (agent, runner.agents[agent].reason, outputs(events, agent))
        assert files_of(repo, runner.run_id, agent) == ["README.md", f"{agent}.txt"]
    # The order the events imposed: api, then ui, then docs.
    fired = {e.action: e for e in of_type(events, "task_event")}
    assert fired["schema_ready"].actor == "agent-api" and fired["schema_ready"].metadata["tables"] == 3
    assert of_type(events, "agent_started", "agent-ui")[0].seq > fired["schema_ready"].seq
    assert of_type(events, "agent_started", "agent-docs")[0].seq > fired["ui_ready"].seq
    # The real CLIs ran their shell tools and got the output back in the next request.
    assert any(tool_outputs(r) for r in codex_requests)
    assert any(tool_outputs(r) for r in gemini_requests)
    assert "You are agent-api" in responses_user_text(codex_requests[0])
    assert "You are agent-ui" in gemini_user_text(gemini_requests[0])
    tools = [e.metadata["input"] for e in of_type(events, "agent_tool", "agent-api")]
    assert any("oneie emit schema_ready" in t for t in tools)
    # Usage with a cost from the price table, and a session id, for both new CLIs.
    for agent in ("agent-api", "agent-ui"):
        usage = [e.metadata for e in stored if e.actor == agent and e.type == "usage"]
        assert sum(u["input_tokens"] + u["output_tokens"] for u in usage) > 0, agent
        assert sum(u["cost_usd"] for u in usage) > 0, agent
        sessions = {e.metadata["session_id"] for e in stored if e.actor == agent and e.type == "agent_info" and e.metadata.get("session_id")}
        assert len(sessions) == 1, (agent, sessions)
    # Codex reports a running total per thread: oneie records each request's tokens once.
    api_usage = [e.metadata for e in stored if e.actor == "agent-api" and e.type == "usage"]
    assert sum(u["input_tokens"] + u["cache_read_tokens"] for u in api_usage) == 100 * len(codex_requests)


def _stalling(
    agent_id: str, user_text: Any, first: Reply, resumed: list[RecordedRequest]
) -> Any:
    """A script that answers `first`, then stalls (so the test can act), then after a
    resume ends the turn."""

    def answer(req: RecordedRequest) -> Reply | None:
        if "You were interrupted" in req.text():
            resumed.append(req)
            return say("Picked up where I left off.")
        if not tool_outputs(req):
            return first
        return say("never sent", delay=60)

    del agent_id, user_text
    return answer


@pytest.mark.parametrize("cli", ["codex", "gemini"])
def test_pause_stops_the_cli_and_a_restart_resumes_its_session(tmp_path: Path, cli: str) -> None:
    repo = git_repo(tmp_path / "repo")
    resumed: list[RecordedRequest] = []
    server_class = ScriptedResponsesServer if cli == "codex" else ScriptedGeminiServer
    seen_states: list[str] = []
    pids: list[int] = []
    events_seen: list[Any] = []

    with server_class(_stalling("agent-solo", None, shell("echo one > one.txt"), resumed)) as srv:
        url = srv.api_url if cli == "codex" else srv.base_url
        make = codex_agent if cli == "codex" else gemini_agent
        spec = loaded([make("agent-solo", url, emits=["solo_done"])], backend=cli, isolation="worktree")

        async def controller(runner: Runner) -> None:
            runner.bus.subscribe(events_seen.append)
            await wait_until(lambda: len(srv.model_requests()) >= 2, 120)
            info = next(e for e in events_seen if e.type == "agent_info" and "pid" in e.metadata)
            pids.append(int(info.metadata["pid"]))
            pids.extend(group_members(pids[0]))
            assert runner.pause("agent-solo")
            await wait_until(lambda: all((proc_stat(p) or ("T",))[0] == "T" for p in pids), 10)
            seen_states.extend(str((proc_stat(p) or ("gone",))[0]) for p in pids)
            assert runner.resume("agent-solo")
            assert runner.restart("agent-solo")  # cancel, then run again: it resumes

        runner, events = run_spec(spec, repo, controller=controller)

    assert status_of(events, "agent-solo") == "completed", (runner.agents["agent-solo"].reason, outputs(events, "agent-solo"))
    assert seen_states and set(seen_states) == {"T"}  # paused: the whole group stopped
    assert alive(pids) == []  # cancelled: nothing of the first attempt is left
    infos = [e.metadata for e in of_type(events, "agent_info", "agent-solo")]
    first_session = next(i["session_id"] for i in infos if i.get("session_id"))
    assert [i["resumed_session"] for i in infos if "resumed_session" in i] == [first_session]
    assert resumed and tool_outputs(resumed[0])  # the CLI sent the earlier tool call back
    assert (repo / ".oneie/worktrees" / runner.run_id / "agent-solo" / "one.txt").read_text() == "one\n"


@pytest.mark.parametrize("cli", ["codex", "gemini"])
def test_a_cli_that_cannot_authenticate_is_refused_before_any_worktree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: str
) -> None:
    for name in ("OPENAI_API_KEY", "CODEX_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    repo = git_repo(tmp_path / "repo")
    agent = (codex_agent if cli == "codex" else gemini_agent)("agent-solo", "http://127.0.0.1:9/v1")
    if cli == "codex":
        del agent["codex"]["base_url"]  # its own login: `codex login status` says no
    spec = loaded([agent], backend=cli, isolation="worktree")
    with pytest.raises(SetupError) as failed:
        run_spec(spec, repo)
    message = str(failed.value)
    assert "agents[0] (agent-solo)" in message
    assert ("codex login" in message) if cli == "codex" else ("GEMINI_API_KEY" in message)
    assert not (repo / ".oneie").exists()  # nothing was created


def test_a_failing_model_fails_the_agent_with_the_clis_reason(tmp_path: Path) -> None:
    from tests.fakes.cli_servers import http_error

    repo = git_repo(tmp_path / "repo")
    with ScriptedGeminiServer([http_error(400, "model says no")], default=http_error(400, "model says no")) as srv:
        spec = loaded([gemini_agent("agent-solo", srv.base_url)], backend="gemini", isolation="worktree")
        runner, events = run_spec(spec, repo)
    assert status_of(events, "agent-solo") == "failed"
    reason = runner.agents["agent-solo"].reason
    assert reason.startswith("gemini failed:") and "success" not in reason


def test_no_cli_process_outlives_a_cancelled_run(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo")
    pids: list[int] = []
    events_seen: list[Any] = []
    with ScriptedResponsesServer([say("never sent", delay=60)]) as srv:
        spec = loaded([codex_agent("agent-solo", srv.api_url)], backend="codex", isolation="worktree")

        async def controller(runner: Runner) -> None:
            runner.bus.subscribe(events_seen.append)
            await wait_until(lambda: srv.model_requests(), 60)
            info = next(e for e in events_seen if e.type == "agent_info" and "pid" in e.metadata)
            pids.append(int(info.metadata["pid"]))
            pids.extend(group_members(pids[0]))
            runner.cancel_run()

        runner, events = run_spec(spec, repo, controller=controller)
    assert status_of(events, "agent-solo") == "cancelled"
    assert pids and alive(pids) == []
