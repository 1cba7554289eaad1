"""A two-node cluster on this machine (`ray.cluster_utils.Cluster`): only the second node
offers agent slots, so every agent runs there. Killing that node mid-run ends its agents
interrupted with the reason, and `oneie resume`'s path completes them on a new node."""

from __future__ import annotations

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
from oneie_tui.events import EventType
from oneie_tui.spec.loader import LoadedSpec, parse_spec_text
from oneie_tui.store.sqlite import RunStore
from tests.ray.conftest import SMALL
from tests.ray.helpers import order_problems, run_with, statuses

NODE = {"num_cpus": 1, "object_store_memory": SMALL["object_store_memory"]}
SLOTS = {"agent_slot": 4}


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    if ray.is_initialized():
        ray.shutdown()
    c = Cluster(initialize_head=True, head_node_args={**NODE, "include_dashboard": False})
    c.add_node(**NODE, resources=SLOTS)
    c.wait_for_nodes()
    ray.init(address=c.address, log_to_driver=False)
    try:
        yield c
    finally:
        ray.shutdown()
        c.shutdown()


def _spec(duration: float, on_failure: str = "continue") -> LoadedSpec:
    text = f"""
[feature]
name = "Cluster test"
description = "sim agents on the second node"

[run]
on_failure = "{on_failure}"

[[agents]]
id = "quick"
task = "a quick one"
emits = ["quick_done"]
sim = {{ duration = 0.2 }}

[[agents]]
id = "long-a"
task = "a long one"
sim = {{ duration = {duration} }}

[[agents]]
id = "long-b"
task = "another long one"
after = ["quick_done"]
sim = {{ duration = {duration} }}
"""
    return LoadedSpec(parse_spec_text(text), None, text)


def _executor_of(runner: Runner) -> Any:
    backend = runner._backend_for(runner.spec.agents[0])  # the wrapped backend of the run
    assert isinstance(backend, RemoteBackend)
    return backend._executor


def _worker_ids(cluster: Cluster) -> set[str]:
    return {n.node_id for n in cluster.worker_nodes}


def test_agents_are_pinned_to_the_node_with_slots(cluster: Cluster, tmp_path: Path) -> None:
    seen: dict[str, str] = {}

    async def note(runner: Runner) -> None:
        executor = _executor_of(runner)
        while runner.status != "running" or not runner.live:
            await anyio.sleep(0.02)
        while runner.live:
            seen.update(executor.placements)
            await anyio.sleep(0.02)

    runner, events = run_with(_spec(0.3), "ray", tmp_path, speed=1.0, controller=note)
    assert runner.status == "completed"
    assert order_problems(runner, events) == []
    assert len(seen) == 3
    assert set(seen.values()) == _worker_ids(cluster)  # never the head, which has no slots


def test_a_dead_node_interrupts_its_agents_and_resume_completes_them(
    cluster: Cluster, tmp_path: Path
) -> None:
    store = RunStore(tmp_path / "runs.sqlite3")
    victim = next(iter(cluster.worker_nodes))

    async def kill_node(runner: Runner) -> None:
        with anyio.fail_after(60):
            while runner.agents["long-b"].status != "running":
                await anyio.sleep(0.05)
        await anyio.sleep(0.5)
        await anyio.to_thread.run_sync(lambda: cluster.remove_node(victim, allow_graceful=False))

    runner, events = run_with(_spec(30.0), "ray", tmp_path, speed=1.0, controller=kill_node, store=store)
    ended = statuses(events)
    assert ended["quick"] == ("completed", "")
    for agent in ("long-a", "long-b"):
        status, reason = ended[agent]
        assert status == "cancelled", reason
        assert "Ray host on node" in reason and "died" in reason, reason
    interrupted = {e.actor for e in events if e.type == EventType.AGENT_CANCELLED and e.metadata.get("interrupted")}
    assert interrupted == {"long-a", "long-b"}
    assert store.get_run(runner.run_id).status == "interrupted"

    # A new node joins; resume runs the two again there, quick stays done.
    cluster.add_node(**NODE, resources=SLOTS)
    cluster.wait_for_nodes()
    resumed = prepare_resume(store, runner.run_id)
    assert sorted(resumed.relaunch) == ["long-a", "long-b"] and resumed.kept == ["quick"]
    resumed.runner.speed = 30.0  # the resumed sims need not take 30 s
    anyio.run(lambda: resumed.runner.run(resumed.relaunch, resume=True))
    assert resumed.runner.status == "completed"
    assert store.get_run(runner.run_id).status == "completed"
    again = list(store.events(runner.run_id))
    assert order_problems(resumed.runner, again) == []
    store.close()
