"""Benchmark: landing the work.

- the conflict radar's cost with 20 isolated command agents that keep changing files
  (each rewrites its own file and, in pairs, a shared one every 0.5 s, so overlapping
  agents need a fresh snapshot and dry-run merge at every scan: the worst case), measured
  side by side with the radar off: git processes per second it starts, and the CPU the
  whole run uses (this process and all children, % of one core) with and without it;
- the time to land 20 branches (`Lander.land`, dependency order, merge-tree and
  commit-tree per branch, one ref update), each branch changing 5 files.

Usage: python benchmarks/bench_land.py [--repeat N] [--seconds S] [--agents N]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from oneie_tui.engine.session import RunOptions, build_runner
from oneie_tui.git.worktree import create, worktrees_dir
from oneie_tui.land.landing import Lander, Target
from oneie_tui.land.radar import Radar
from tests.fakes.process_tools import git_repo, loaded

PY = sys.executable
AGENT = """
import os, pathlib, time, sys
me, seconds = int(os.environ["N"]), float(os.environ["SECONDS"])
own, shared = pathlib.Path(f"own_{me}.txt"), pathlib.Path(f"shared_{me // 2}.txt")
end = time.monotonic() + seconds
tick = 0
while time.monotonic() < end:
    tick += 1
    own.write_text(f"tick {tick}\\n")
    lines = shared.read_text().splitlines() if shared.exists() else ["", ""]
    lines[me % 2] = f"agent {me} tick {tick}"
    shared.write_text("\\n".join(lines) + "\\n")
    time.sleep(0.5)
"""


def _repo(folder: Path, files: int = 200) -> Path:
    repo = git_repo(folder)
    src = repo / "src"
    src.mkdir()
    for i in range(files):
        (src / f"module_{i}.py").write_text(f"VALUE = {i}\n" * 20)
    for i in range(10):
        (repo / f"shared_{i}.txt").write_text("\n\n")
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-qm", "files"], cwd=repo, check=True)
    return repo


def _cpu() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def radar_run(folder: Path, agents: int, seconds: float, radar: dict[str, Any]) -> dict[str, float]:
    repo = _repo(folder)
    script = folder / "agent.py"
    script.write_text(AGENT)
    spec = loaded(
        [{"id": f"a{i:02d}", "command": {"argv": [PY, str(script)], "env": {"N": str(i), "SECONDS": str(seconds)}}}
         for i in range(agents)],
        isolation="worktree", radar=radar,
    )
    runner = build_runner(spec, RunOptions(extra={"project_dir": str(repo)}), None)
    found = [getattr(s, "__self__", None) for s in runner.services]
    watcher = next((r for r in found if isinstance(r, Radar)), None)
    detected = {"n": 0}
    runner.bus.subscribe(lambda e: detected.__setitem__("n", detected["n"] + 1), "conflict_detected")
    cpu0, t0 = _cpu(), time.perf_counter()
    anyio.run(runner.run)
    wall, cpu = time.perf_counter() - t0, _cpu() - cpu0
    calls = watcher.git_calls if watcher is not None else 0
    scans = watcher.scans if watcher is not None else 0
    return {"wall": wall, "cpu_pct": 100 * cpu / wall, "git_per_s": calls / wall, "scans": scans,
            "detected": detected["n"]}


def land_time(folder: Path, branches: int, files_each: int = 5) -> float:
    repo = _repo(folder)
    run_id = "bench"
    base_dir = worktrees_dir(repo)
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@e", "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@e"}
    ids = [f"a{i:02d}" for i in range(branches)]
    base = ""
    for i, agent in enumerate(ids):
        wt = create(repo, base_dir, run_id, agent)
        base = wt.base
        for j in range(files_each):
            (wt.path / "src" / f"module_{i * files_each + j}.py").write_text(f"VALUE = 'changed by {agent}'\n")
        subprocess.run(["git", "commit", "-qam", f"work of {agent}"], cwd=wt.path, check=True, env=env)
    spec = loaded([{"id": a, "command": {"argv": [PY]}} for a in ids]).spec
    from oneie_tui.land.landing import landing_order

    times = []
    for attempt in range(3):
        lander = Lander(repo, run_id, base, Target(f"landed-{attempt}", explicit=True), dry_run=False,
                        publish=lambda *_: None)
        t0 = time.perf_counter()
        result = lander.land(landing_order(spec, ids))
        times.append(time.perf_counter() - t0)
        assert len(result.landed) == branches and not result.left_out, result.left_out
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--agents", type=int, default=20)
    args = parser.parse_args()
    print(f"# {time.strftime('%Y-%m-%d %H:%M %Z')} · {platform.machine()} · python {platform.python_version()} "
          f"· {os.cpu_count()} cores · git {subprocess.run(['git', '--version'], capture_output=True, text=True).stdout.split()[-1]}")
    configs = [("radar off", {"enabled": False}), ("radar, interval 2 s (default)", {"interval": 2.0}),
               ("radar, interval 0.5 s", {"interval": 0.5})]
    results: dict[str, list[dict[str, float]]] = {name: [] for name, _ in configs}
    for _ in range(args.repeat):
        for name, radar in configs:  # side by side, interleaved: the neighbours weigh alike
            with tempfile.TemporaryDirectory(prefix="oneie-bench-land-") as tmp:
                results[name].append(radar_run(Path(tmp) / "repo", args.agents, args.seconds, radar))
    print(f"\nradar: {args.agents} isolated agents changing files for {args.seconds:g} s, median of {args.repeat}")
    print(f"{'config':34} {'git proc/s':>10} {'CPU % (1 core)':>15} {'wall s':>7} {'scans':>6} {'detected':>9}")
    for name, _ in configs:
        rows = results[name]

        def med(key: str, rows: list[dict[str, float]] = rows) -> float:
            return statistics.median(r[key] for r in rows)

        runs = ", ".join(f"{r['cpu_pct']:.0f}" for r in rows)
        print(f"{name:34} {med('git_per_s'):10.1f} {med('cpu_pct'):11.1f} ({runs}) {med('wall'):6.1f} "
              f"{med('scans'):6.0f} {med('detected'):9.0f}")
    with tempfile.TemporaryDirectory(prefix="oneie-bench-land-") as tmp:
        seconds = land_time(Path(tmp) / "repo", args.agents)
    print(f"\nland {args.agents} branches (5 files each) into a new branch: {seconds * 1000:.0f} ms (median of 3)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
