"""The `claude-code` backend end to end: the real Claude Code CLI, pointed at the scripted
Messages API server, runs real Bash tools in per-agent git worktrees and coordinates
through `oneie emit`. These tests never skip: `make test` installs the CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import anyio
import pytest

from oneie_tui.engine.runner import Runner
from oneie_tui.store.sqlite import RunStore
from tests.conftest import SPECS
from tests.fakes.anthropic_server import ScriptedAnthropicServer, bash, text
from tests.fakes.claude_code_script import by_agent_and_step, claude_cli
from tests.fakes.process_tools import (
    alive,
    git_repo,
    group_members,
    loaded,
    of_type,
    outputs,
    run_spec,
    spec_text,
    status_of,
    wait_until,
)

pytestmark = [pytest.mark.claude_code, pytest.mark.slow, pytest.mark.usefixtures("offline_claude_cli")]



def _agent(agent_id: str, cli: str, **kw: object) -> dict[str, object]:
    return {
        "id": agent_id,
        "role": agent_id.removeprefix("agent-"),
        "task": f"write {agent_id}.txt, then signal",
        "backend": "claude-code",
        "claude_code": {"cli": cli, "allowed_tools": ["Bash"], "max_turns": 8},
        **kw,
    }


def test_three_cli_agents_in_worktrees_coordinate_through_oneie_emit(tmp_path: Path) -> None:
    cli = claude_cli()
    repo = git_repo(tmp_path / "repo")
    scripts = {
        "agent-backend": [
            bash("echo backend > agent-backend.txt && echo wrote"),
            bash("""oneie emit schema_ready --json '{"tables": 2}'"""),
            text("Schema is ready."),
        ],
        "agent-frontend": [
            bash("echo frontend > agent-frontend.txt && echo wrote"),
            bash("oneie emit frontend_ready"),
            text("Frontend is ready."),
        ],
        "agent-quality": [
            bash("echo quality > agent-quality.txt && echo wrote"),
            bash("oneie emit tests_ready"),
            text("Tests are ready."),
        ],
    }
    spec = loaded(
        [
            _agent("agent-backend", cli, emits=["schema_ready"]),
            _agent("agent-frontend", cli, emits=["frontend_ready"], after=["schema_ready"]),
            _agent("agent-quality", cli, emits=["tests_ready"]),
        ],
        backend="claude-code",
        isolation="worktree",
    )
    store = RunStore(tmp_path / "runs.sqlite3")
    try:
        with ScriptedAnthropicServer(by_agent_and_step(scripts)) as srv:
            runner, events = run_spec(spec, repo, store=store, base_url=srv.base_url)
            requests = srv.message_requests()
        stored = list(store.events(runner.run_id))
        row = store.get_run(runner.run_id)
    finally:
        store.close()

    agents = list(scripts)
    for agent in agents:
        assert status_of(events, agent) == "completed", (agent, runner.agents[agent].reason, outputs(events, agent))
    assert runner.status == "completed"

    # Each worktree holds its own file and nothing of the others'.
    for agent in agents:
        wt = repo / ".oneie/worktrees" / runner.run_id / agent
        files = sorted(p.name for p in wt.iterdir() if p.name != ".git")
        assert files == ["README.md", f"{agent}.txt"], (agent, files)
        assert (wt / f"{agent}.txt").read_text() == agent.removeprefix("agent-") + "\n"
    assert not (repo / "agent-backend.txt").exists()

    # The CLI ran the Bash tool for real, and `oneie emit` reached the runner.
    fired = {e.action: e for e in of_type(events, "task_event") if e.action != "task_failed"}
    assert set(fired) == {"schema_ready", "frontend_ready", "tests_ready"}
    assert fired["schema_ready"].actor == "agent-backend"
    assert fired["schema_ready"].metadata["tables"] == 2
    tools = [e.metadata for e in of_type(events, "agent_tool", "agent-backend")]
    assert [t["name"] for t in tools] == ["Bash", "Bash"]
    assert tools[1]["input"].startswith("oneie emit schema_ready")

    # The dependent agent started only after the event, and then ran beside the others.
    frontend_start = of_type(events, "agent_started", "agent-frontend")[0].seq
    assert frontend_start > fired["schema_ready"].seq
    quality_start = of_type(events, "agent_started", "agent-quality")[0].seq
    backend_start = of_type(events, "agent_started", "agent-backend")[0].seq
    assert max(quality_start, backend_start) < fired["schema_ready"].seq  # both at once
    frontend_requests = [r for r in requests if "You are agent-frontend," in r.text()]
    assert frontend_requests and all("You are agent-frontend," in r.text() for r in frontend_requests)

    # Costs and session ids are recorded in the store.
    for agent in agents:
        infos = [e.metadata for e in stored if e.actor == agent and e.type == "agent_info"]
        sessions = {i["session_id"] for i in infos if "session_id" in i}
        assert len(sessions) == 1, infos
        final = next(i for i in infos if "total_cost_usd" in i)
        assert final["status"] == "success" and final["num_turns"] >= 3 and final["session_done"]
        usage = [e.metadata for e in stored if e.actor == agent and e.type == "usage"]
        cost = sum(u["cost_usd"] for u in usage)
        assert cost > 0
        # Stored events round cost to 6 decimals; the runner's own total is exact.
        assert cost == pytest.approx(final["total_cost_usd"], abs=1e-6 * len(usage))
        assert runner.agents[agent].usage.cost_usd == pytest.approx(final["total_cost_usd"], rel=1e-9)
        tokens = sum(e.metadata["output_tokens"] for e in stored if e.actor == agent and e.type == "usage")
        assert tokens > 0
        diff = [i for i in infos if "diff_stat" in i]
        assert diff and diff[-1]["diff_stat"] == "1 file changed, +1 -0"
    assert row.status == "completed"
    assert row.summary["cost_usd"] > 0


def test_a_cancelled_cli_agent_leaves_no_process_and_resumes_its_session(tmp_path: Path) -> None:
    cli = claude_cli()
    repo = git_repo(tmp_path / "repo")
    seen_resume: list[dict[str, object]] = []

    def script(req):  # type: ignore[no-untyped-def]
        if "You are agent-solo," not in req.text():
            return text("ok")
        if "You were interrupted" in req.text():
            seen_resume.append({"results": len(req.tool_results), "messages": len(req.messages)})
            return text("Picked up where I left off.")
        if not req.tool_results:
            return bash("echo one > one.txt && echo wrote")
        return text("never sent", delay=60)  # stalls: the test cancels meanwhile

    spec = loaded([_agent("agent-solo", cli, emits=["solo_done"])], backend="claude-code", isolation="worktree")
    pids: list[int] = []

    async def restart_when_stalled(runner: Runner) -> None:
        await wait_until(lambda: len([r for r in srv.message_requests() if "You are agent-solo," in r.text()]) >= 2, 120)
        info = next(e for e in runner_events if e.type == "agent_info" and "pid" in e.metadata)
        pids.append(int(info.metadata["pid"]))
        pids.extend(group_members(pids[0]))
        assert runner.restart("agent-solo")  # cancel, then run again

    runner_events: list = []  # type: ignore[type-arg]

    async def controller(runner: Runner) -> None:
        runner.bus.subscribe(runner_events.append)
        await restart_when_stalled(runner)

    with ScriptedAnthropicServer(script) as srv:
        runner, events = run_spec(spec, repo, controller=controller, base_url=srv.base_url)

    assert status_of(events, "agent-solo") == "completed", runner.agents["agent-solo"].reason
    assert of_type(events, "agent_cancelled", "agent-solo")  # the first attempt
    assert runner.agents["agent-solo"].attempt == 2
    assert alive(pids) == []  # the first CLI and everything it started are gone
    infos = [e.metadata for e in of_type(events, "agent_info", "agent-solo")]
    first_session = next(i["session_id"] for i in infos if "session_id" in i)
    resumed = [i for i in infos if "resumed_session" in i]
    assert resumed and resumed[0]["resumed_session"] == first_session
    # The resumed CLI sent the earlier conversation (the Bash call and its result) back.
    assert seen_resume and int(str(seen_resume[0]["results"])) >= 1
    wt = repo / ".oneie/worktrees" / runner.run_id / "agent-solo"
    assert (wt / "one.txt").read_text() == "one\n"


def test_stream_json_of_the_real_cli_reaches_the_panel(tmp_path: Path) -> None:
    cli = claude_cli()
    scripts = {"agent-talker": [bash("echo 'hello from bash'"), text("All", " done.")]}
    spec = loaded([_agent("agent-talker", cli)], backend="claude-code")
    with ScriptedAnthropicServer(by_agent_and_step(scripts)) as srv:
        _, events = run_spec(spec, tmp_path, base_url=srv.base_url)
        first = srv.message_requests()[0]
    out = outputs(events, "agent-talker")
    assert "→ Bash: echo 'hello from bash'" in out
    assert "  ⎿ hello from bash" in out
    assert "All done." in out
    # The prompt carries the shared context, the brief and how to signal.
    prompt = first.text()
    assert "# Feature: Process test" in prompt and "You are agent-talker," in prompt
    assert "oneie emit EVENT_NAME" in prompt


def test_the_shipped_squad_spec_runs_headless_through_the_oneie_command(tmp_path: Path) -> None:
    """`oneie run specs/claude-code-squad.toml --base-url ...` from a git repository."""
    cli = claude_cli()
    repo = git_repo(tmp_path / "repo")
    shutil.copy(SPECS / "claude-code-squad.toml", repo / "squad.toml")
    scripts = {
        "agent-backend": [
            bash("echo 'SCHEMA = 1' > schema.py"),
            bash("oneie emit schema_ready"),
            bash("oneie emit backend_ready"),
        ],
        "agent-frontend": [bash("echo 'VIEWS = 1' > cli_views.py"), bash("oneie emit frontend_ready")],
        "agent-quality": [bash("echo 'TESTS = 1' > test_acceptance.py"), bash("oneie emit tests_ready")],
    }
    env = {**os.environ, "PATH": str(Path(cli).parent) + os.pathsep + os.environ["PATH"]}
    with ScriptedAnthropicServer(by_agent_and_step(scripts)) as srv:
        done = subprocess.run(
            [sys.executable, "-m", "oneie_tui", "run", "squad.toml", "--headless", "--json", "--base-url", srv.base_url],
            cwd=repo,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    summary = lines[-1]
    assert summary["status"] == "completed" and summary["cost_usd"] > 0
    assert {a["id"]: a.get("diff_stat") for a in summary["agents"]} == {
        "agent-backend": "1 file changed, +1 -0",
        "agent-frontend": "1 file changed, +1 -0",
        "agent-quality": "1 file changed, +1 -0",
    }
    fired = {e["metadata"]["action"] for e in lines if e.get("type") == "task_event"}
    assert fired == {"schema_ready", "backend_ready", "frontend_ready", "tests_ready"}
    run_id = summary["run_id"]
    for agent, name in (("agent-backend", "schema.py"), ("agent-frontend", "cli_views.py"), ("agent-quality", "test_acceptance.py")):
        wt = repo / ".oneie/worktrees" / run_id / agent
        # squad.toml was never committed, so the worktrees (made from HEAD) lack it.
        assert sorted(p.name for p in wt.iterdir() if p.name != ".git") == sorted(["README.md", name])


def test_an_interrupted_headless_run_resumes_the_cli_session(tmp_path: Path) -> None:
    """`oneie run` dies mid-run (SIGKILL: the run is left interrupted); `oneie resume`
    continues the agent's Claude Code session with --resume, the session id coming from the
    store."""
    import signal
    import time

    cli = claude_cli()
    repo = git_repo(tmp_path / "repo")
    (repo / "spec.toml").write_text(
        spec_text([_agent("agent-solo", cli, emits=["solo_done"])], backend="claude-code", isolation="worktree")
    )
    resumed: list[int] = []

    def script(req):  # type: ignore[no-untyped-def]
        if "You were interrupted" in req.text():
            resumed.append(len(req.tool_results))
            return bash("oneie emit solo_done") if len(req.tool_results) < 2 else text("Resumed and done.")
        if "You are agent-solo," not in req.text():
            return text("ok")
        if not req.tool_results:
            return bash("echo one > one.txt && echo wrote")
        return text("never sent", delay=60)  # stalls until the run is killed

    def stored_info() -> list[dict[str, object]]:
        store = RunStore(os.environ["ONEIE_STORE"])
        try:
            rows = store.list_runs()
            if not rows:
                return []
            return [e.metadata for e in store.events(rows[0].id) if e.type == "agent_info"]
        finally:
            store.close()

    # A killed oneie cannot remove its control socket folder: keep it in a short private
    # TMPDIR (AF_UNIX paths are short) that the test removes.
    private_tmp = tempfile.mkdtemp(prefix="oneie-test-", dir="/tmp")
    env = {**os.environ, "PATH": str(Path(cli).parent) + os.pathsep + os.environ["PATH"], "TMPDIR": private_tmp}
    with ScriptedAnthropicServer(script) as srv:
        first = subprocess.Popen(
            [sys.executable, "-m", "oneie_tui", "run", "spec.toml", "--headless", "--json", "--base-url", srv.base_url],
            cwd=repo, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        pid = 0
        try:
            deadline = time.monotonic() + 120
            while not (
                len([r for r in srv.message_requests() if "You are agent-solo," in r.text()]) >= 2
                and any("session_id" in i for i in stored_info())
            ):
                assert first.poll() is None, "oneie run ended early"
                assert time.monotonic() < deadline, "the CLI never reached its second turn"
                time.sleep(0.1)
            infos = stored_info()
            pid = int(str(next(i["pid"] for i in infos if "pid" in i)))
            session = next(i["session_id"] for i in infos if "session_id" in i)
            first.kill()  # no cleanup at all: the run is left behind as interrupted
            first.wait(timeout=30)
        finally:
            if first.poll() is None:
                first.kill()
                first.wait()
            if pid:  # a killed oneie cannot end its agents: end the orphaned CLI here,
                # politely first so it writes its session transcript out.
                for signum, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
                    try:
                        os.killpg(pid, signum)
                    except ProcessLookupError:
                        break
                    until = time.monotonic() + wait
                    while group_members(pid) and time.monotonic() < until:
                        time.sleep(0.05)
        left_behind = set(Path(private_tmp).glob("oneie-*"))  # the killed run's socket folder
        again = subprocess.run(
            [sys.executable, "-m", "oneie_tui", "resume", "last", "--json", "--base-url", srv.base_url],
            cwd=repo, env=env, capture_output=True, text=True, timeout=300, check=False,
        )
    after = set(Path(private_tmp).glob("oneie-*"))
    shutil.rmtree(private_tmp, ignore_errors=True)
    assert again.returncode == 0, again.stderr[-3000:]
    assert len(left_behind) == 1 and after == left_behind  # the resumed run removed its own
    later = [json.loads(line) for line in again.stdout.splitlines()]
    infos = [e["metadata"] for e in later if e.get("type") == "agent_info"]
    assert any(i.get("resumed_session") == session for i in infos)
    assert later[-1]["status"] == "completed"
    assert {e["metadata"]["action"] for e in later if e.get("type") == "task_event"} == {"solo_done"}
    assert resumed and resumed[0] >= 1  # the earlier Bash call and its result came back
    assert (repo / ".oneie/worktrees" / later[-1]["run_id"] / "agent-solo" / "one.txt").exists()


def test_a_session_that_cannot_be_resumed_fails_once_then_starts_afresh(tmp_path: Path) -> None:
    cli = claude_cli()
    spec = loaded([_agent("agent-solo", cli)], backend="claude-code")
    gone = "3f1c2d8e-1111-4222-8333-944455556666"
    with ScriptedAnthropicServer(by_agent_and_step({"agent-solo": [text("Fresh start, done.")]})) as srv:
        runner, events = run_spec(
            spec, tmp_path, base_url=srv.base_url, resume_sessions={"agent-solo": gone}
        )
        failure = runner.agents["agent-solo"].reason
        runner.bus.subscribe(events.append)
        anyio.run(runner.run, ["agent-solo"])  # the same runner, run again (a restart)
    assert "No conversation found" in failure and "begin a new session" in failure
    assert runner.agents["agent-solo"].status == "completed"
    assert runner.agents["agent-solo"].attempt == 2
    assert "Fresh start, done." in outputs(events, "agent-solo")
