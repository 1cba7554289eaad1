"""Isolated agents on another node (`ray.cluster_utils.Cluster`: the driver is on the
head, agent slots only on the second node): the node clones the project (a shipped
bundle for a local-only repository, origin when there is one), the agent commits there,
and its branch comes back to the driver's repository, where the radar, review and land
read it as a local agent's. The user's branch and working tree stay as they were.
Resume: a worktree still on its node continues; one whose node died starts over."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
import ray
from ray.cluster_utils import Cluster

from oneie_tui.engine.ray_executor import RemoteBackend
from oneie_tui.engine.resume import prepare_resume
from oneie_tui.engine.runner import Runner
from oneie_tui.events import Event, EventType
from oneie_tui.land.flow import land_run
from oneie_tui.land.gitscan import changed_paths
from oneie_tui.land.review import changed_files, diff_text
from oneie_tui.land.runfacts import StoreRecorder, load_facts
from oneie_tui.spec.loader import LoadedSpec, parse_spec_text
from oneie_tui.store.sqlite import RunStore
from tests.ray.conftest import SMALL
from tests.ray.helpers import remove_node_dirs, run_with, statuses

NODE = {"num_cpus": 1, "object_store_memory": SMALL["object_store_memory"]}
SLOTS = {"agent_slot": 4}
NODE_KEY = "ONEIE_TEST_NODE_KEY"  # in the nodes' environment only (as `ray start` would have it)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    if ray.is_initialized():
        ray.shutdown()
    c = Cluster(initialize_head=True, head_node_args={**NODE, "include_dashboard": False})
    # Two nodes with slots from the start: the lost-node test resumes on the one left (a
    # node added after another was removed failed to register in time under load).
    _add_worker(c)
    _add_worker(c)
    ray.init(address=c.address, log_to_driver=False)
    try:
        yield c
    finally:
        remove_node_dirs()
        ray.shutdown()
        c.shutdown()


def _add_worker(c: Cluster) -> None:
    """A node with agent slots whose environment has NODE_KEY (the driver's has not)."""
    os.environ[NODE_KEY] = "sk-node-own-key-1234"
    try:
        c.add_node(**NODE, resources=SLOTS)
        c.wait_for_nodes()
    finally:
        del os.environ[NODE_KEY]  # the node inherited it; the driver has it no longer


def sh(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def _repo(path: Path) -> Path:
    path.mkdir()
    sh(path, "init", "-q", "-b", "main")
    sh(path, "config", "user.name", "Dev One")
    sh(path, "config", "user.email", "dev@example.org")
    (path / "app.py").write_text("print('hi')\n")
    sh(path, "add", ".")
    sh(path, "commit", "-q", "-m", "first")
    return path


def _spec(script: str) -> LoadedSpec:
    argv = json.dumps(["sh", "-c", script])  # a JSON array of strings is a TOML one
    text = f"""
[feature]
name = "Remote worktrees"
description = "an isolated command agent on the second node"

[run]
backend = "command"
isolation = "worktree"
on_failure = "continue"

[[agents]]
id = "builder"
task = "build on the node"
command = {{ argv = {argv} }}
"""
    return LoadedSpec(parse_spec_text(text), None, text)


WRITE_AND_COMMIT = "echo built > made.txt && git add made.txt && git commit -q -m 'agent work' && echo uncommitted > loose.txt"


def _infos(events: list[Event], key: str) -> list[dict[str, Any]]:
    return [e.metadata for e in events if e.type == EventType.AGENT_INFO and key in e.metadata]


def _workers(cluster: Cluster) -> set[str]:
    return {n.node_id for n in cluster.worker_nodes}


def _user_state(repo: Path) -> tuple[str, str, str]:
    return sh(repo, "symbolic-ref", "HEAD"), sh(repo, "rev-parse", "HEAD"), sh(repo, "status", "--porcelain")


def test_a_local_only_repository_ships_a_bundle_and_the_branch_comes_back(cluster: Cluster, tmp_path: Path) -> None:
    repo = _repo(tmp_path / "project")
    before = _user_state(repo)
    store = RunStore(tmp_path / "runs.sqlite3")
    runner, events = run_with(_spec(WRITE_AND_COMMIT), "ray", repo, speed=1.0, store=store)
    assert statuses(events)["builder"] == ("completed", "")
    (checkout,) = _infos(events, "node_worktree")
    assert checkout["checkout"] == "bundle" and checkout["node"] in _workers(cluster)
    assert checkout["worktree_recovered"] is False
    node_path = Path(checkout["node_worktree"])
    assert not node_path.is_relative_to(repo)  # a clone of its own, not the driver's repository
    branch = f"oneie/{runner.run_id}/builder"
    assert sh(node_path, "rev-parse", "--abbrev-ref", "HEAD") == branch

    # The agent's commit and oneie's commit of what it left loose, on the driver's branch.
    log = sh(repo, "log", "--format=%s|%an", branch).splitlines()
    assert log[1] == "agent work|Dev One" and log[0].startswith("oneie: work of agent builder (completed)")
    assert sh(repo, "show", f"{branch}:made.txt") == "built"
    assert sh(repo, "show", f"{branch}:loose.txt") == "uncommitted"
    assert _user_state(repo) == before  # the user's branch, commit and working tree

    # What the radar reads (oneie's worktree of the branch, here), the diff stat, review, land.
    (ended,) = _infos(events, "diff_stat")
    assert ended["files_changed"] == 2 and sorted(ended["changed_paths"]) == ["loose.txt", "made.txt"]
    local = Path(ended["worktree"])
    assert local.is_relative_to(repo)
    base = sh(repo, "rev-parse", "HEAD")
    assert changed_paths(local, base)[0].paths == frozenset({"made.txt", "loose.txt"})
    facts = load_facts(store, runner.run_id)
    assert sorted(f.path for f in changed_files(facts, "builder")) == ["loose.txt", "made.txt"]
    assert "+built" in diff_text(facts, "builder", "made.txt")
    outcome = anyio.run(lambda: land_run(facts, StoreRecorder(store, runner.run_id), ["builder"]))
    assert outcome.result.landed == ["builder"]
    assert sh(repo, "show", f"{outcome.result.into}:made.txt") == "built"
    assert _user_state(repo) == before
    store.close()


def test_a_repository_with_origin_is_cloned_from_there(cluster: Cluster, tmp_path: Path) -> None:
    repo = _repo(tmp_path / "project")
    origin = tmp_path / "origin.git"
    sh(tmp_path, "init", "-q", "--bare", str(origin))
    sh(repo, "remote", "add", "origin", str(origin))
    sh(repo, "push", "-q", "-u", "origin", "main")
    runner, events = run_with(_spec(WRITE_AND_COMMIT), "ray", repo, speed=1.0)
    assert statuses(events)["builder"] == ("completed", "")
    (checkout,) = _infos(events, "node_worktree")
    assert checkout["checkout"] == "origin"
    branch = f"oneie/{runner.run_id}/builder"
    assert sh(repo, "show", f"{branch}:made.txt") == "built"
    assert branch not in sh(origin, "branch", "--list")  # nothing was pushed to origin


# First life: commit step 1, then work for a long time (the host or node dies meanwhile).
# A later life that finds step 1 in its worktree continued; one that does not started over.
def _two_step(marker: Path) -> str:
    return (
        "if [ -f step1.txt ]; then echo continued > step2.txt; exit 0; fi; "
        "echo one > step1.txt && git add step1.txt && git commit -q -m step1; "
        f"if [ -f {shlex.quote(str(marker))} ]; then echo fresh > fresh.txt; exit 0; fi; "
        "sleep 60"
    )


def _host_of(executor: Any) -> Any:
    """The host the agent runs on."""
    (node_id,) = set(executor.placements.values())
    return next(h for h in executor.hosts if h.node_id == node_id)


def _executor_of(runner: Runner) -> Any:
    backend = runner._backend_for(runner.spec.agents[0])
    assert isinstance(backend, RemoteBackend)
    return backend._executor


def _first_life(tmp_path: Path, repo: Path, store: RunStore, kill: Any) -> tuple[Runner, list[Event]]:
    """Runs until step 1 is committed on the node, then `kill`s (host or node)."""

    async def wait_then_kill(runner: Runner) -> None:
        seen: list[Event] = []
        runner.bus.subscribe(seen.append)
        with anyio.fail_after(90):
            while not _committed_on_node(seen):
                await anyio.sleep(0.1)
        await anyio.to_thread.run_sync(kill, _executor_of(runner))

    marker = tmp_path / "second-life"
    return run_with(_spec(_two_step(marker)), "ray", repo, speed=1.0, store=store, controller=wait_then_kill)


def _committed_on_node(seen: list[Event]) -> bool:
    for info in _infos(seen, "node_worktree"):
        try:
            return "step1" in sh(Path(info["node_worktree"]), "log", "--format=%s")
        except subprocess.CalledProcessError:
            return False
    return False


def _resume(store: RunStore, run_id: str, marker: Path) -> list[Event]:
    marker.write_text("")
    resumed = prepare_resume(store, run_id)
    assert resumed.relaunch == ["builder"]
    anyio.run(lambda: resumed.runner.run(resumed.relaunch, resume=True))
    assert resumed.runner.status == "completed"
    return list(store.events(run_id))


def test_resume_continues_in_the_worktree_still_on_its_node(cluster: Cluster, tmp_path: Path) -> None:
    repo = _repo(tmp_path / "project")
    store = RunStore(tmp_path / "runs.sqlite3")

    def kill_host(executor: Any) -> None:
        ray.kill(_host_of(executor).actor)  # the host's process dies; its node lives on

    runner, events = _first_life(tmp_path, repo, store, kill_host)
    status, reason = statuses(events)["builder"]
    assert status == "cancelled" and "died" in reason
    assert store.get_run(runner.run_id).status == "interrupted"

    after = _resume(store, runner.run_id, tmp_path / "second-life")
    checkouts = _infos(after, "node_worktree")
    assert [c["worktree_recovered"] for c in checkouts] == [False, True]
    assert checkouts[0]["node_worktree"] == checkouts[1]["node_worktree"]
    assert not any("started_over" in c for c in checkouts)
    branch = f"oneie/{runner.run_id}/builder"
    assert sh(repo, "show", f"{branch}:step1.txt") == "one"
    assert sh(repo, "show", f"{branch}:step2.txt") == "continued"
    store.close()


def test_resume_starts_over_when_the_node_with_the_worktree_died(cluster: Cluster, tmp_path: Path) -> None:
    repo = _repo(tmp_path / "project")
    store = RunStore(tmp_path / "runs.sqlite3")
    killed: list[Any] = []

    def kill_node(executor: Any) -> None:
        killed.append(next(n for n in cluster.worker_nodes if n.node_id == _host_of(executor).node_id))
        cluster.remove_node(killed[0], allow_graceful=False)

    runner, events = _first_life(tmp_path, repo, store, kill_node)
    assert statuses(events)["builder"][0] == "cancelled"
    (victim,) = killed

    after = _resume(store, runner.run_id, tmp_path / "second-life")
    first, second = _infos(after, "node_worktree")
    assert first["node"] == victim.node_id and second["node"] != victim.node_id
    assert second["worktree_recovered"] is False
    assert f"was on node {victim.node_id[:12]}" in second["started_over"]
    branch = f"oneie/{runner.run_id}/builder"
    files = sh(repo, "ls-tree", "--name-only", branch).split()
    assert "fresh.txt" in files and "step1.txt" in files and "step2.txt" not in files
    store.close()


def test_keys_reach_an_agent_from_its_node_never_from_the_driver_or_the_store(
    cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    driver_key = "sk-ant-driver-only-5678"
    monkeypatch.setenv("ANTHROPIC_API_KEY", driver_key)  # the driver's, set after the nodes started
    repo = _repo(tmp_path / "project")
    store = RunStore(tmp_path / "runs.sqlite3")
    script = f'echo "node=${{{NODE_KEY}:-absent}}" > seen.txt; echo "driver=${{ANTHROPIC_API_KEY:-absent}}" >> seen.txt'
    runner, events = run_with(_spec(script), "ray", repo, speed=1.0, store=store)
    assert statuses(events)["builder"] == ("completed", "")
    branch = f"oneie/{runner.run_id}/builder"
    assert sh(repo, "show", f"{branch}:seen.txt").splitlines() == ["node=sk-node-own-key-1234", "driver=absent"]
    stored = json.dumps([e.to_dict() for e in store.events(runner.run_id)]) + (store.get_run(runner.run_id).spec_text or "")
    assert driver_key not in stored and "sk-node-own-key" not in stored
    store.close()
