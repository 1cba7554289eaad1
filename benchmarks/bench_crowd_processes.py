"""A crowd of process agents (issue 14), measured side by side in one run:

- 200 command agents × `sleep 1`: the runner's wall against `xargs -P 200` running the
  same 200 sleeps (bar: ratio ≤ 1.15);
- 1,000 × `sleep 5`: wall (bar: ≤ 7 s on 2 cores), and the recorded speedup (the run's
  metrics, from its events) against the true one (1,000 × 5 s / wall);
- spawn → first output: agents running `sh -c 'echo up; exec sleep 1'`, the time from the
  agent's `agent_started` to its first output line, at 1, 100 and 1,000 agents.

The runner runs in this process with a real store (as `oneie run --headless` does, without
the interpreter's start-up). Each figure is the median of `--repeat` runs.

Usage: python benchmarks/bench_crowd_processes.py [--repeat 3] [--only ratio,thousand,spawn]
"""

from __future__ import annotations

import argparse
import os
import platform
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
from oneie_tui.events import Event
from oneie_tui.store.sqlite import RunStore
from tests.fakes.process_tools import loaded


def run_agents(argv: list[str], n: int, folder: Path) -> dict[str, Any]:
    """Run `n` command agents of `argv`; wall, recorded metrics and per-agent first-output
    latencies (perf_counter seconds between the agent_started and first output events)."""
    spec = loaded([{"id": f"a{i:04d}", "command": {"argv": argv}} for i in range(n)], max_parallel=0)
    store = RunStore(folder / f"runs-{time.monotonic_ns()}.sqlite3")
    runner = build_runner(spec, RunOptions(extra={"project_dir": str(folder)}), store)
    started: dict[str, float] = {}
    first: dict[str, float] = {}

    def on_event(e: Event) -> None:
        if e.type == "agent_started":
            started[e.actor] = time.perf_counter()
        elif e.type == "agent_output" and e.actor not in first:
            first[e.actor] = time.perf_counter()

    runner.bus.subscribe(on_event)
    t0 = time.perf_counter()
    metrics = anyio.run(runner.run)
    wall = time.perf_counter() - t0
    store.close()
    bad = [a for a, s in runner.agents.items() if s.status != "completed"]
    assert not bad, (bad[:3], [runner.agents[a].reason for a in bad[:3]])
    latencies = sorted(first[a] - started[a] for a in first if a in started)
    return {"wall": wall, "speedup": metrics.speedup, "sequential": metrics.sequential_s, "latencies": latencies}


def xargs_wall(n: int, seconds: float) -> float:
    t0 = time.perf_counter()
    subprocess.run(
        ["xargs", "-P", str(n), "-n", "1", "sleep"], input=f"{seconds:g}\n" * n, text=True, check=True
    )
    return time.perf_counter() - t0


def _p(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))] if values else 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", default="ratio,thousand,spawn")
    args = parser.parse_args()
    only = set(args.only.split(","))
    print(
        f"machine: {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average before: "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if "ratio" in only:
            ours, theirs = [], []
            for _ in range(args.repeat):  # interleaved, so both see the same machine
                ours.append(run_agents(["sleep", "1"], 200, folder)["wall"])
                theirs.append(xargs_wall(200, 1))
            o, x = statistics.median(ours), statistics.median(theirs)
            print(f"200 x sleep 1: oneie {o:.2f} s, xargs -P 200 {x:.2f} s, ratio {o / x:.2f} "
                  f"(runs: oneie {', '.join(f'{v:.2f}' for v in ours)}; xargs {', '.join(f'{v:.2f}' for v in theirs)})")
        if "thousand" in only:
            runs = [run_agents(["sleep", "5"], 1000, folder) for _ in range(args.repeat)]
            walls = [r["wall"] for r in runs]
            mid = sorted(runs, key=lambda r: r["wall"])[len(runs) // 2]
            true = 1000 * 5.0 / mid["wall"]
            print(f"1000 x sleep 5: wall {statistics.median(walls):.2f} s "
                  f"(runs {', '.join(f'{w:.2f}' for w in walls)}); recorded speedup {mid['speedup']:.1f} "
                  f"vs true {true:.1f} (sequential recorded {mid['sequential']:.0f} s vs 5000 s)")
        if "spawn" in only:
            for n in (1, 100, 1000):
                runs = [run_agents(["sh", "-c", "echo up; exec sleep 1"], n, folder) for _ in range(args.repeat)]
                med = statistics.median(statistics.median(r["latencies"]) for r in runs) * 1000
                p95 = statistics.median(_p(r["latencies"], 0.95) for r in runs) * 1000
                worst = statistics.median(r["latencies"][-1] for r in runs) * 1000
                print(f"spawn -> first output, {n} agents: median {med:.1f} ms, p95 {p95:.1f} ms, max {worst:.1f} ms")


if __name__ == "__main__":
    main()
