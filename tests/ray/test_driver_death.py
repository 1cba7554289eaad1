"""A driver that dies (kill -9) leaves no agent running on the nodes: the node's host
either goes with its owner or, hearing no heartbeat, ends its agents' process groups."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import ray
from ray.cluster_utils import Cluster

from tests.ray.conftest import SMALL

NODE = {"num_cpus": 1, "object_store_memory": SMALL["object_store_memory"]}

DRIVER = r"""
import sys, anyio, tomli_w
from oneie_tui.engine.session import RunOptions, build_runner
from oneie_tui.spec.loader import LoadedSpec, parse_spec_text
pid_file, address = sys.argv[1], sys.argv[2]
body = "import os, time\nopen(%r, 'w').write(str(os.getpid()))\ntime.sleep(300)\n" % pid_file
text = tomli_w.dumps({
    "feature": {"name": "orphan test", "description": "x"},
    "run": {"backend": "command", "executor": "ray"},
    "agents": [{"id": "sleeper", "task": "sleep", "command": {"argv": [sys.executable, "-c", body]}}],
})
runner = build_runner(LoadedSpec(parse_spec_text(text), None, text), RunOptions(ray_address=address), None)
anyio.run(runner.run)
"""


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    if ray.is_initialized():
        ray.shutdown()
    c = Cluster(initialize_head=True, head_node_args={**NODE, "include_dashboard": False})
    c.add_node(**NODE, resources={"agent_slot": 2})
    c.wait_for_nodes()
    try:
        yield c
    finally:
        c.shutdown()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_a_dead_driver_leaves_no_agent_process(cluster: Cluster, tmp_path: Path) -> None:
    pid_file = tmp_path / "agent.pid"
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    driver = subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(pid_file), cluster.address],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while not pid_file.exists() or not pid_file.read_text():
            assert driver.poll() is None, "the driver ended before its agent started"
            assert time.monotonic() < deadline, "the agent never started"
            time.sleep(0.1)
        agent = int(pid_file.read_text())
        assert _alive(agent)
        driver.send_signal(signal.SIGKILL)
        driver.wait(timeout=10)
        deadline = time.monotonic() + 40
        while _alive(agent) and time.monotonic() < deadline:
            time.sleep(0.2)
        alive = _alive(agent)
        if alive:
            os.kill(agent, signal.SIGKILL)  # the test's own clean-up, then fail
        assert not alive, json.dumps({"orphan": agent})
    finally:
        if driver.poll() is None:
            driver.kill()


def test_a_host_that_stops_hearing_its_driver_ends_its_agents(monkeypatch: pytest.MonkeyPatch) -> None:
    """The watchdog alone (the host class driven directly, no Ray): with no heartbeat for
    DRIVER_SILENCE seconds the host cancels its agents, which end `cancelled` there."""
    import anyio

    from oneie_tui.agents.base import BackendOptions
    from oneie_tui.engine import ray_host
    from oneie_tui.spec.loader import parse_spec_text

    monkeypatch.setattr(ray_host, "DRIVER_SILENCE", 1.5)
    spec = parse_spec_text(
        '[feature]\nname = "w"\ndescription = "w"\n[[agents]]\nid = "slow"\ntask = "t"\n'
        "sim = { duration = 60.0 }\n"
    )
    request = ray_host.AgentRequest(
        "r/slow/1", "sim", spec, "slow", "r", 1.0, 0, 1, "", {}, None, BackendOptions()
    )
    host = ray_host.AgentHostActor("node", 1)

    async def main() -> tuple[list[str], float]:
        began = time.monotonic()
        ends = [m for batch in [b async for b in host.run_agent(request)] for m in batch if m[0] == "end"]
        return [str(m[1]) for m in ends], time.monotonic() - began

    ends, took = anyio.run(main)
    assert ends == ["cancelled"]
    assert took < 10  # the sim would have run for 60 s
