"""`oneie resume` of a claude-code agent that ran on another node (`ray.cluster_utils.Cluster`,
the real Claude Code CLI against the scripted Anthropic server): when its host died but
its node and worktree are still there, the CLI continues its session (`--resume`, the
conversation so far comes back); when the node died with the worktree, the agent starts
over on a new node with a new session, and says why."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
import ray
from ray.cluster_utils import Cluster

from oneie_tui.agents.base import BackendOptions
from oneie_tui.engine.ray_executor import RemoteBackend
from oneie_tui.engine.resume import prepare_resume
from oneie_tui.engine.runner import Runner
from oneie_tui.engine.session import RunOptions, build_runner
from oneie_tui.events import Event, EventType
from oneie_tui.store.sqlite import RunStore
from tests.fakes.anthropic_server import ScriptedAnthropicServer, bash, text
from tests.fakes.claude_code_script import claude_cli
from tests.fakes.process_tools import git_repo, loaded
from tests.ray.conftest import SMALL
from tests.ray.helpers import remove_node_dirs, statuses

pytestmark = [pytest.mark.claude_code, pytest.mark.slow]

NODE = {"num_cpus": 1, "object_store_memory": SMALL["object_store_memory"]}
SLOTS = {"agent_slot": 4}
# The CLI reads these on the node: they must be in the nodes' environment when they start.
OFFLINE = {
    "ANTHROPIC_API_KEY": "sk-test-not-a-real-key",
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "DISABLE_AUTOUPDATER": "1",
}


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    if ray.is_initialized():
        ray.shutdown()
    saved = {k: os.environ.get(k) for k in [*OFFLINE, "ANTHROPIC_AUTH_TOKEN"]}
    os.environ.update(OFFLINE)
    os.environ.pop("ANTHROPIC_AUTH_TOKEN", None)
    c = Cluster(initialize_head=True, head_node_args={**NODE, "include_dashboard": False})
    # Three nodes with slots from the start: two tests each lose one and resume on another
    # (a node added after another was removed failed to register in time under load).
    for _ in range(3):
        c.add_node(**NODE, resources=SLOTS)
    c.wait_for_nodes()
    ray.init(address=c.address, log_to_driver=False)
    try:
        yield c
    finally:
        remove_node_dirs()
        ray.shutdown()
        c.shutdown()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class Script:
    """Life 1: a Bash call that writes one.txt, then a reply that never comes (the host or
    node dies meanwhile). Later: a resumed session is told it was interrupted; a new one
    writes two.txt."""

    def __init__(self) -> None:
        self.resumed: list[int] = []  # tool results a resumed conversation brought back
        self.fresh_later = 0  # new conversations after the first life
        self.later = False

    def __call__(self, req: Any) -> Any:
        if "You are agent-solo," not in req.text():
            return text("ok")
        if "You were interrupted" in req.text():
            self.resumed.append(len(req.tool_results))
            return text("Picked up where I left off.")
        if self.later:
            if not req.tool_results:
                self.fresh_later += 1
                return bash("echo two > two.txt && echo wrote")
            return text("Started over and done.")
        if not req.tool_results:
            return bash("echo one > one.txt && echo wrote")
        return text("never sent", delay=60)


def _spec(cli: str, isolation: str = "worktree") -> Any:
    agent = {
        "id": "agent-solo", "role": "solo", "task": "write a file",
        "claude_code": {"cli": cli, "allowed_tools": ["Bash"], "max_turns": 8},
    }
    return loaded([agent], backend="claude-code", isolation=isolation, on_failure="continue")


def _executor_of(runner: Runner) -> Any:
    backend = runner._backend_for(runner.spec.agents[0])
    assert isinstance(backend, RemoteBackend)
    return backend._executor


def _host_of(executor: Any) -> Any:
    """The host the agent runs on."""
    (node_id,) = set(executor.placements.values())
    return next(h for h in executor.hosts if h.node_id == node_id)


def _infos(events: list[Event], key: str) -> list[dict[str, Any]]:
    return [e.metadata for e in events if e.type == EventType.AGENT_INFO and key in e.metadata]


def _two_lives(
    tmp_path: Path, kill: Any, isolation: str = "worktree"
) -> tuple[str, RunStore, Script, list[Event], Path]:
    repo = git_repo(tmp_path / "repo")
    store = RunStore(tmp_path / "runs.sqlite3")
    script = Script()
    with ScriptedAnthropicServer(script) as srv:
        options = RunOptions(
            executor="ray", backend_options=BackendOptions(base_url=srv.base_url, project_dir=str(repo))
        )
        runner = build_runner(_spec(claude_cli(), isolation), options, store)
        events: list[Event] = []
        runner.bus.subscribe(events.append)

        async def first_life() -> None:
            async def kill_when_stalled() -> None:
                with anyio.fail_after(180):
                    while len([r for r in srv.message_requests() if "You are agent-solo," in r.text()]) < 2:
                        await anyio.sleep(0.1)
                await anyio.sleep(0.5)
                await anyio.to_thread.run_sync(kill, _executor_of(runner))

            async with anyio.create_task_group() as tg:
                tg.start_soon(kill_when_stalled)
                await runner.run()

        anyio.run(first_life)
        status, reason = statuses(events)["agent-solo"]
        assert status == "cancelled" and "died" in reason, reason
        script.later = True
        resumed = prepare_resume(store, runner.run_id, base_url=srv.base_url)
        assert resumed.relaunch == ["agent-solo"]
        anyio.run(lambda: resumed.runner.run(resumed.relaunch, resume=True))
        assert resumed.runner.status == "completed", resumed.runner.agents["agent-solo"].reason
    return runner.run_id, store, script, list(store.events(runner.run_id)), repo


def _kill_node(cluster: Cluster) -> Any:
    def kill(executor: Any) -> None:
        node = next(n for n in cluster.worker_nodes if n.node_id == _host_of(executor).node_id)
        cluster.remove_node(node, allow_graceful=False)

    return kill


def _files_on(repo: Path, branch: str) -> list[str]:
    out = subprocess.run(["git", "ls-tree", "--name-only", branch], cwd=repo, capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_the_session_continues_when_the_worktree_is_still_on_its_node(cluster: Cluster, tmp_path: Path) -> None:
    def kill_host(executor: Any) -> None:
        ray.kill(_host_of(executor).actor)  # the host dies, its node and its files stay

    run_id, store, script, events, repo = _two_lives(tmp_path, kill_host)
    checkouts = _infos(events, "node_worktree")
    assert [c["worktree_recovered"] for c in checkouts] == [False, True]
    first_session = next(i["session_id"] for i in _infos(events, "session_id"))
    assert [i["resumed_session"] for i in _infos(events, "resumed_session")] == [first_session]
    assert script.resumed and script.resumed[0] >= 1  # the earlier Bash call came back
    assert script.fresh_later == 0
    assert "one.txt" in _files_on(repo, f"oneie/{run_id}/agent-solo")
    store.close()


def test_a_new_session_starts_when_the_node_with_the_worktree_died(cluster: Cluster, tmp_path: Path) -> None:
    run_id, store, script, events, repo = _two_lives(tmp_path, _kill_node(cluster))
    first, second = _infos(events, "node_worktree")
    assert second["worktree_recovered"] is False and second["node"] != first["node"]
    assert "new session" in second["started_over"]
    assert _infos(events, "resumed_session") == [] and script.resumed == []
    assert script.fresh_later == 1
    files = _files_on(repo, f"oneie/{run_id}/agent-solo")
    assert "two.txt" in files and "one.txt" not in files  # one.txt was lost with its node
    store.close()


def test_an_agent_without_a_worktree_starts_a_new_session_when_its_node_died(
    cluster: Cluster, tmp_path: Path
) -> None:
    """Not isolated: the session alone is on the dead node. Resumed elsewhere, the agent
    is not sent to `--resume` a session that node took with it: a new one, and why."""
    run_id, store, script, events, _ = _two_lives(tmp_path, _kill_node(cluster), isolation="none")
    sessions = _infos(events, "session_id")
    assert len({i["node"] for i in sessions}) == 2  # each life's session, on its own node
    (over,) = _infos(events, "started_over")
    assert f"is on node {sessions[0]['node'][:12]}" in over["started_over"]
    assert _infos(events, "resumed_session") == [] and script.resumed == []
    assert script.fresh_later == 1
    store.close()
