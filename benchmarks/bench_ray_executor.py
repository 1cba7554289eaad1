"""Benchmark: the ray executor against local, side by side in one run (one local Ray
instance on this machine, one host actor).

- overhead: 50 sim agents of 1.0 s and 20 command agents sleeping 1.0 s, all at once:
  wall / ideal (ideal = 1.0 s), medians of --repeat trials, local and ray;
- event latency: a command agent prints 200 lines stamped with time.time(); latency is the
  stamp to the event published on the driver's bus, which is what the store writer takes
  next (the writer's own batching is the same for both executors);
- memory: the host actor's resident memory idle and while it runs 50 sim agents (per
  agent = the difference / 50), and Ray's start-up time.
Usage: python benchmarks/bench_ray_executor.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

from oneie_tui.agents.base import BackendOptions
from oneie_tui.engine.runner import Runner
from oneie_tui.engine.session import RunOptions, build_runner
from oneie_tui.events import Event, EventType
from oneie_tui.spec.loader import LoadedSpec, parse_spec_text

PY = sys.executable


def sim_spec(agents: int) -> LoadedSpec:
    blocks = "".join(f'[[agents]]\nid = "a{i:03d}"\nsim = {{ duration = 1.0 }}\n' for i in range(agents))
    text = '[feature]\nname = "ray bench"\n' + blocks
    return LoadedSpec(parse_spec_text(text), None, text)


def command_spec(agents: int, body: str) -> LoadedSpec:
    import tomli_w

    data = {
        "feature": {"name": "ray bench"},
        "run": {"backend": "command"},
        "agents": [{"id": f"c{i:03d}", "task": "t", "command": {"argv": [PY, "-c", body]}} for i in range(agents)],
    }
    text = tomli_w.dumps(data)
    return LoadedSpec(parse_spec_text(text), None, text)


def build(spec: LoadedSpec, executor: str, project: Path) -> Runner:
    return build_runner(
        spec, RunOptions(executor=executor, backend_options=BackendOptions(project_dir=str(project))), None
    )


def wall_over_ideal(spec: LoadedSpec, executor: str, project: Path) -> float:
    runner = build(spec, executor, project)
    metrics = anyio.run(runner.run)
    assert runner.status == "completed", runner.status
    return metrics.wall_s / 1.0


LATENCY_BODY = "import time\nfor i in range(200):\n    print('t', time.time(), flush=True)\n    time.sleep(0.01)\n"


def latency_ms(executor: str, project: Path) -> tuple[float, float]:
    runner = build(command_spec(1, LATENCY_BODY), executor, project)
    lags: list[float] = []

    def on(e: Event) -> None:
        text = str(e.metadata.get("text", ""))
        if e.type == EventType.AGENT_OUTPUT and text.startswith("t "):
            lags.append((time.time() - float(text.split()[1])) * 1000)

    runner.bus.subscribe(on)
    anyio.run(runner.run)
    lags.sort()
    return statistics.median(lags), lags[int(len(lags) * 0.95)]


def host_memory(project: Path) -> tuple[float, float]:
    """(host RSS idle MB, RSS per running sim agent KB)."""
    runner = build(sim_spec(50), "ray", project)
    executor: Any = runner._backend_for(runner.spec.agents[0])._executor  # type: ignore[attr-defined]
    idle = executor.stats()[0]["rss"]
    peak = [idle]

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            async def sample() -> None:
                while True:
                    await anyio.sleep(0.3)
                    stats = await anyio.to_thread.run_sync(executor.stats)
                    peak.append(stats[0]["rss"])

            tg.start_soon(sample)
            await runner.run()
            tg.cancel_scope.cancel()

    anyio.run(main)
    return idle / 2**20, (max(peak) - idle) / 50 / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    import tempfile

    import ray

    began = time.perf_counter()
    ray.init(num_cpus=1, resources={"agent_slot": 64}, object_store_memory=100 * 2**20,
             include_dashboard=False, log_to_driver=False)
    startup = time.perf_counter() - began
    project = Path(tempfile.mkdtemp(prefix="oneie-ray-bench-"))
    sleeper = command_spec(20, "import time; time.sleep(1.0)")
    rows: dict[str, dict[str, float]] = {}
    try:
        for executor in ("local", "ray"):
            sims = [wall_over_ideal(sim_spec(50), executor, project) for _ in range(args.repeat)]
            cmds = [wall_over_ideal(sleeper, executor, project) for _ in range(args.repeat)]
            lat = [latency_ms(executor, project) for _ in range(args.repeat)]
            rows[executor] = {
                "sim50": statistics.median(sims),
                "cmd20": statistics.median(cmds),
                "lat_p50": statistics.median(x[0] for x in lat),
                "lat_p95": statistics.median(x[1] for x in lat),
            }
        idle_mb, per_agent_kb = host_memory(project)
    finally:
        ray.shutdown()
    print(f"ray start-up (local instance): {startup:.1f} s")
    print(f"{'':28}{'local':>10}{'ray':>10}{'ray/local':>11}")
    for key, label in (
        ("sim50", "50 sim agents, wall/ideal"),
        ("cmd20", "20 command agents, wall/ideal"),
        ("lat_p50", "event latency p50, ms"),
        ("lat_p95", "event latency p95, ms"),
    ):
        a, b = rows["local"][key], rows["ray"][key]
        print(f"{label:28}{a:10.3f}{b:10.3f}{b / a:11.2f}")
    print(f"host actor RSS idle: {idle_mb:.0f} MB; per running sim agent: {per_agent_kb:.0f} KB")


if __name__ == "__main__":
    main()
