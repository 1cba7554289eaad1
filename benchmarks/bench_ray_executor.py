"""Benchmark: the ray executor against local, side by side in one run (one local Ray
instance on this machine, one host actor).

- overhead: 50 sim agents of 1.0 s and 20 command agents sleeping 1.0 s, all at once:
  wall / ideal (ideal = 1.0 s), medians of --repeat trials, local and ray;
- event latency: a command agent prints 200 lines stamped with time.time(); latency is the
  stamp to the event published on the driver's bus, which is what the store writer takes
  next (the writer's own batching is the same for both executors);
- memory: the host actor's resident memory idle and while it runs 50 sim agents (per
  agent = the difference / 50), and Ray's start-up time;
- a shipped worktree: one isolated command agent (writes a file, commits) on ray with its
  local worktree against a clone shipped as a bundle (ONEIE_RAY_SHIP_WORKTREES=1) in a
  small repository (100 files, 20 commits), wall of the run; and the git steps alone.
Usage: python benchmarks/bench_ray_executor.py [--repeat 3] [--only-worktrees]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
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


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def small_repo(path: Path) -> Path:
    """100 files over 20 commits: a small project."""
    path.mkdir()
    _git(path, "init", "-q", "-b", "main")
    _git(path, "config", "user.name", "bench")
    _git(path, "config", "user.email", "bench@example.org")
    for c in range(20):
        for f in range(5):
            (path / f"m{c:02d}_{f}.py").write_text("".join(f"line {i} of {c}/{f}\n" for i in range(40)))
        _git(path, "add", ".")
        _git(path, "commit", "-q", "-m", f"commit {c}")
    return path


def isolated_wall(project: Path, ship: bool) -> float:
    """Wall of a run of one isolated command agent on ray (local worktree or shipped)."""
    import tomli_w

    data = {
        "feature": {"name": "ray bench"},
        "run": {"backend": "command", "isolation": "worktree"},
        "agents": [{"id": "w", "task": "t", "command": {"argv": [
            "sh", "-c", "echo made > made.txt && git add made.txt && git commit -qm work"]}}],
    }
    text = tomli_w.dumps(data)
    os.environ["ONEIE_RAY_SHIP_WORKTREES"] = "1" if ship else "0"
    try:
        runner = build(LoadedSpec(parse_spec_text(text), None, text), "ray", project)
        metrics = anyio.run(runner.run)
    finally:
        del os.environ["ONEIE_RAY_SHIP_WORKTREES"]
    assert runner.status == "completed", runner.status
    return metrics.wall_s


def git_steps(project: Path, node: Path) -> dict[str, float]:
    """ms of each step of a shipped worktree, without Ray."""
    from oneie_tui.git.remote_checkout import (
        NodeCheckout,
        bundle,
        fetch_back,
        make_on_node,
        pack_back,
        rev,
    )
    from oneie_tui.git.worktree import create, worktrees_dir

    wt = create(project, worktrees_dir(project), f"bench-{time.time_ns()}", "w")
    ref = f"refs/heads/{wt.branch}"
    out: dict[str, float] = {}
    t = time.perf_counter()
    data = bundle(wt.path, ref)
    out["bundle"] = time.perf_counter() - t
    co = NodeCheckout(wt.run_id, "w", wt.branch, wt.base, rev(wt.path, ref), None, {})
    t = time.perf_counter()
    made = make_on_node(node, co, data, None)
    out["clone"] = time.perf_counter() - t
    (made.path / "made.txt").write_text("made\n")
    _git(made.path, "add", "made.txt")
    _git(made.path, "-c", "user.name=b", "-c", "user.email=b@x", "commit", "-qm", "work")
    t = time.perf_counter()
    head, back = pack_back(made.path, wt.branch, co.tip)
    out["pack_back"] = time.perf_counter() - t
    assert back is not None
    t = time.perf_counter()
    fetch_back(wt.path, wt.path, wt.branch, head, back)
    out["fetch_back"] = time.perf_counter() - t
    out["bundle_kb"] = len(data or b"") / 1024
    return out


def worktree_figures(project_parent: Path, repeat: int) -> None:
    import tempfile

    repo = small_repo(project_parent / "small")
    node = Path(tempfile.mkdtemp(prefix="oneie-bench-node-"))
    import shutil

    import ray

    from oneie_tui.engine.ray_checkout import node_dir_for

    try:
        local = [isolated_wall(repo, ship=False) for _ in range(repeat)]
        shipped = [isolated_wall(repo, ship=True) for _ in range(repeat)]
        steps = [git_steps(repo, node) for _ in range(repeat)]
    finally:  # the clones the host made, and ours
        shutil.rmtree(node_dir_for(ray.get_runtime_context().get_node_id()), ignore_errors=True)
        shutil.rmtree(node, ignore_errors=True)
    a, b = statistics.median(local), statistics.median(shipped)
    print(f"isolated command agent on ray, run wall: local worktree {a:.3f} s, shipped clone {b:.3f} s, "
          f"ratio {b / a:.2f}, difference {b - a:.3f} s")
    for key in ("bundle", "clone", "pack_back", "fetch_back"):
        print(f"  {key:12}{statistics.median(s[key] for s in steps) * 1000:9.1f} ms")
    print(f"  history bundle: {statistics.median(s['bundle_kb'] for s in steps):.0f} KB")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only-worktrees", action="store_true", help="only the shipped-worktree figures")
    args = ap.parse_args()
    import tempfile

    import ray

    began = time.perf_counter()
    ray.init(address="local", num_cpus=1, resources={"agent_slot": 64}, object_store_memory=100 * 2**20,
             include_dashboard=False, log_to_driver=False)
    startup = time.perf_counter() - began
    project = Path(tempfile.mkdtemp(prefix="oneie-ray-bench-"))
    if args.only_worktrees:
        try:
            worktree_figures(project, args.repeat)
        finally:
            ray.shutdown()
        return
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
        worktree_figures(project, args.repeat)
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
