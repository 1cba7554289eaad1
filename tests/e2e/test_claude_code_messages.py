"""Talking to a real Claude Code CLI agent (pointed at the scripted server): a message sent
mid-run goes to the CLI's stdin (`--input-format stream-json`), the server sees it in the
CLI's next request and the agent carries on; a follow-up to a finished agent resumes its
session (`--resume`) in its worktree with the message as the prompt."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest

from oneie_tui.agents.base import BackendOptions
from oneie_tui.engine.runner import Runner
from oneie_tui.engine.session import RunOptions, build_runner
from oneie_tui.events import Event, EventType
from tests.fakes.anthropic_server import RecordedRequest, Reply, ScriptedAnthropicServer, bash, text
from tests.fakes.claude_code_script import by_agent_and_step, claude_cli
from tests.fakes.process_tools import git_repo, loaded, of_type, status_of

pytestmark = [pytest.mark.claude_code, pytest.mark.slow, pytest.mark.usefixtures("offline_claude_cli")]

MESSAGE = "Also write NOTES.md, please"



def _spec(cli: str, **extra: object) -> object:
    return loaded([{
        "id": "agent-solo", "role": "backend", "task": "write solo.txt", "backend": "claude-code",
        "claude_code": {"cli": cli, "allowed_tools": ["Bash"], "max_turns": 8}, **extra,
    }])


def _mentions(req: RecordedRequest, words: str) -> bool:
    return words in json.dumps(req.body.get("messages", []) if isinstance(req.body, dict) else [])


def _runner(spec: object, repo: Path, srv: ScriptedAnthropicServer) -> tuple[Runner, list[Event]]:
    where = BackendOptions(base_url=srv.base_url, project_dir=str(repo))
    runner = build_runner(spec, RunOptions(backend_options=where), None)  # type: ignore[arg-type]
    events: list[Event] = []
    runner.bus.subscribe(events.append)
    return runner, events


def test_a_message_mid_run_reaches_the_cli_and_the_agent_continues(tmp_path: Path) -> None:
    cli = claude_cli()
    repo = git_repo(tmp_path / "repo")
    def script(req: RecordedRequest) -> Reply:
        if "You are agent-solo," not in req.text():
            return text("ok")
        step = len(req.tool_results)
        if step == 0:
            return bash("sleep 3 && echo slept")
        if step == 1:  # what it does next depends on having heard the message
            return bash("echo notes > NOTES.md && echo wrote") if _mentions(req, MESSAGE) else text("No notes.")
        return text("Wrote NOTES.md too.")
    answers: list[str | None] = []
    with ScriptedAnthropicServer(script) as srv:
        runner, events = _runner(_spec(cli), repo, srv)

        async def main() -> None:
            async with anyio.create_task_group() as tg:
                async def talk() -> None:
                    with anyio.fail_after(90):
                        while not any(e.type == EventType.AGENT_TOOL for e in events):
                            await anyio.sleep(0.05)  # the CLI is inside its `sleep 3`
                        answers.append(runner.send_message("agent-solo", MESSAGE))

                tg.start_soon(talk)
                with anyio.fail_after(240):
                    await runner.run()

        anyio.run(main)
        requests = [r for r in srv.message_requests() if "You are agent-solo," in r.text()]
    assert answers == [None]
    assert status_of(events, "agent-solo") == "completed", [e.metadata for e in events if e.type == "agent_failed"]
    first_seen = next(i for i, r in enumerate(requests) if _mentions(r, MESSAGE))
    assert first_seen >= 1 and not _mentions(requests[0], MESSAGE)
    # It reached the running CLI (one process), in the request right after the running
    # tool's result, and the agent acted on it.
    assert len(requests[first_seen].tool_results) == 1
    assert len([e for e in of_type(events, EventType.AGENT_INFO, "agent-solo") if "pid" in e.metadata]) == 1
    assert (repo / "NOTES.md").read_text() == "notes\n"
    (message,) = of_type(events, EventType.AGENT_MESSAGE, "agent-solo")
    assert message.metadata == {"text": MESSAGE, "attempt": 1, "delivery": "live"}
    assert runner.agents["agent-solo"].summary == "Wrote NOTES.md too."


def test_a_follow_up_resumes_the_finished_session_in_its_worktree(tmp_path: Path) -> None:
    cli = claude_cli()
    repo = git_repo(tmp_path / "repo")
    steps = by_agent_and_step({"agent-solo": [bash("echo one > solo.txt && echo wrote"), text("Wrote solo.txt.")]})

    def script(req: RecordedRequest) -> Reply:
        return text("Added the second line.") if _mentions(req, "now add a second line") else steps(req)

    with ScriptedAnthropicServer(script) as srv:
        runner, events = _runner(_spec(cli, isolation="worktree"), repo, srv)
        anyio.run(runner.run)
        assert status_of(events, "agent-solo") == "completed"
        session = next(str(e.metadata["session_id"]) for e in of_type(events, EventType.AGENT_INFO, "agent-solo")
                       if e.metadata.get("session_id"))
        before = len(srv.message_requests())

        relaunched: list[list[str]] = []
        runner.continue_run = lambda ids: relaunched.append(ids) or None  # as the dashboard does
        assert runner.send_message("agent-solo", "now add a second line") is None
        assert relaunched == [["agent-solo"]]
        anyio.run(runner.run, ["agent-solo"])
        later = srv.message_requests()[before:]
    assert runner.agents["agent-solo"].status == "completed" and runner.agents["agent-solo"].attempt == 2
    infos = [e.metadata for e in of_type(events, EventType.AGENT_INFO, "agent-solo")]
    assert any(i.get("resumed_session") == session for i in infos)
    worktree = next(str(i["cwd"]) for i in infos if "cwd" in i)
    assert all(str(i["cwd"]) == worktree for i in infos if "cwd" in i) and worktree != str(repo)
    # The resumed session sent its history and the follow-up as the newest user turn.
    asked = [r for r in later if _mentions(r, "now add a second line")]
    assert asked and _mentions(asked[0], "echo one > solo.txt")
    message = of_type(events, EventType.AGENT_MESSAGE, "agent-solo")[-1]
    assert message.metadata == {"text": "now add a second line", "attempt": 2, "delivery": "followup"}
    assert runner.agents["agent-solo"].summary == "Added the second line."


def test_a_review_comment_after_oneie_resume_continues_the_stored_session(tmp_path: Path) -> None:
    """The comment the review screen builds, to a claude-code agent that completed before the
    run was interrupted, sent after `oneie resume` (a new runner and backend: no session in
    memory): it resumes the session recorded in the store, with the comment as the prompt."""
    from oneie_tui.engine.resume import prepare_resume
    from oneie_tui.land.review import diff_lines
    from oneie_tui.store.sqlite import RunStore

    cli = claude_cli()
    repo = git_repo(tmp_path / "repo")
    diff = "diff --git a/solo.txt b/solo.txt\nnew file mode 100644\n--- /dev/null\n+++ b/solo.txt\n@@ -0,0 +1 @@\n+one\n"
    spot = diff_lines(diff)[-1]
    assert spot is not None
    comment = spot.comment("say two instead")  # exactly what `c` then enter posts
    assert comment.startswith("Review comment on solo.txt line 1:")
    steps = by_agent_and_step({"agent-solo": [bash("echo one > solo.txt && echo wrote"), text("Wrote solo.txt.")]})

    def script(req: RecordedRequest) -> Reply:
        return text("Said two instead.") if _mentions(req, "say two instead") else steps(req)

    spec = loaded([
        {"id": "agent-solo", "role": "backend", "task": "write solo.txt", "backend": "claude-code",
         "claude_code": {"cli": cli, "allowed_tools": ["Bash"], "max_turns": 8}},
        {"id": "slow", "backend": "command", "command": {"argv": ["sleep", "600"]}},
    ], isolation="worktree")
    store = RunStore(tmp_path / "runs.sqlite3")
    try:
        with ScriptedAnthropicServer(script) as srv:
            where = BackendOptions(base_url=srv.base_url, project_dir=str(repo))
            first = build_runner(spec, RunOptions(backend_options=where), store)  # type: ignore[arg-type]

            async def until_solo_done_then_interrupt() -> None:
                async with anyio.create_task_group() as tg:
                    async def interrupt() -> None:
                        with anyio.fail_after(120):
                            while first.agents["agent-solo"].status != "completed":
                                await anyio.sleep(0.05)
                        first.cancel_run("terminal closed", interrupted=True)

                    tg.start_soon(interrupt)
                    await first.run()

            anyio.run(until_solo_done_then_interrupt)
            session = next(str(e.metadata["session_id"]) for e in store.events(first.run_id)
                           if e.type == EventType.AGENT_INFO and e.actor == "agent-solo" and e.metadata.get("session_done"))
            before = len(srv.message_requests())

            resumed = prepare_resume(store, first.run_id, srv.base_url)
            runner = resumed.runner
            assert resumed.relaunch == ["slow"] and resumed.kept == ["agent-solo"]
            answers: list[str | None] = []

            async def resume_and_comment() -> None:
                async with anyio.create_task_group() as tg:
                    async def comment_then_stop() -> None:
                        with anyio.fail_after(120):
                            while not (runner.live and runner.agents["slow"].status == "running"):
                                await anyio.sleep(0.05)
                            answers.append(runner.send_message("agent-solo", comment))
                            while not (runner.agents["agent-solo"].attempt == 2
                                       and runner.agents["agent-solo"].status in ("completed", "failed")):
                                await anyio.sleep(0.05)
                        runner.cancel_run("test over")

                    tg.start_soon(comment_then_stop)
                    await runner.run(resumed.relaunch, resume=True)

            anyio.run(resume_and_comment)
            later = srv.message_requests()[before:]
        events = list(store.events(first.run_id))
    finally:
        store.close()
    assert answers == [None]
    solo = runner.agents["agent-solo"]
    assert (solo.status, solo.attempt, solo.summary) == ("completed", 2, "Said two instead.")
    infos = [e.metadata for e in events if e.type == EventType.AGENT_INFO and e.actor == "agent-solo"]
    assert any(i.get("resumed_session") == session for i in infos)  # the stored one, not a fresh one
    folders = {str(i["cwd"]) for i in infos if "cwd" in i}
    assert len(folders) == 1 and folders != {str(repo)}  # its worktree both times
    # The comment is the resumed session's prompt, sent with the earlier conversation.
    asked = [r for r in later if _mentions(r, "say two instead")]
    assert asked and _mentions(asked[0], "echo one > solo.txt") and not _mentions(asked[0], "The user adds")
    message = [e.metadata for e in events if e.type == EventType.AGENT_MESSAGE][-1]
    assert message == {"text": comment, "attempt": 2, "delivery": "followup"}
