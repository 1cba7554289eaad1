"""Benchmark (a): runner overhead. 200 sim agents of 1.0 s each, all started at once:
wall / ideal, where ideal is 1.0 s (every agent's duration, side by side).

Measured with the run store attached (as `oneie run` does) and without, side by side.
Wall is the run's own figure (run_started to run_finished) and, around it, the time
`Runner.run` took including opening and closing the store. Bar: wall / ideal <= 1.05.
Usage: python benchmarks/bench_engine_overhead.py [--agents 200] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from oneie_tui.agents.sim import SimBackend
from oneie_tui.engine.runner import Runner
from oneie_tui.spec.loader import parse_spec_text
from oneie_tui.store.sqlite import RunStore

BAR = 1.05


def spec_text(agents: int, duration: float) -> str:
    blocks = "".join(
        f'[[agents]]\nid = "agent-{i:03d}"\nrole = "backend"\nsim = {{ duration = {duration} }}\n'
        for i in range(agents)
    )
    return '[feature]\nname = "overhead bench"\n' + blocks


def trial(agents: int, duration: float, store: RunStore | None) -> tuple[float, float, float]:
    """(run wall / ideal, Runner.run time / ideal, speedup)"""
    spec = parse_spec_text(spec_text(agents, duration))
    sim = SimBackend()
    runner = Runner(spec, lambda _a: sim, store=store)
    started = time.perf_counter()
    metrics = anyio.run(runner.run)
    outer = time.perf_counter() - started
    assert runner.status == "completed"
    return metrics.wall_s / duration, outer / duration, metrics.speedup


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--duration", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with_store: list[tuple[float, float, float]] = []
    without: list[tuple[float, float, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        store = RunStore(Path(tmp) / "runs.sqlite3")
        for _ in range(args.repeat):  # side by side, alternating
            with_store.append(trial(args.agents, args.duration, store))
            without.append(trial(args.agents, args.duration, None))
        store.close()
    print(f"{args.agents} sim agents x {args.duration:g}s, all parallel; ideal wall {args.duration:g}s")
    for label, rows in (("store attached", with_store), ("no store", without)):
        ratio = statistics.median(r[0] for r in rows)
        outer = statistics.median(r[1] for r in rows)
        speedup = statistics.median(r[2] for r in rows)
        print(f"  {label:<15} wall/ideal {ratio:.4f} (runs {', '.join(f'{r[0]:.4f}' for r in rows)})"
              f"; Runner.run/ideal {outer:.4f}; speedup {speedup:.1f}x of {args.agents}")
    ok = statistics.median(r[0] for r in with_store) <= BAR
    print(f"bar wall/ideal <= {BAR}: {'met' if ok else 'NOT MET'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
