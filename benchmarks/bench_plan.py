"""Benchmark: the lints (run by the editor on every pause in typing) and the plan (the
plan screen, `oneie plan`) on a squad of 1,000 agents, all at once and as one chain.

Every agent's task names the next agent after "then", so the all-at-once squad draws a
lint per agent (the worst case). Reports the median of several runs; bar: lints < 0.3 s
(the editor's debounce) and the plan < 1 s for 1,000 agents.
Usage: python benchmarks/bench_plan.py [--runs 3] [--agents 1000]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from oneie_tui.spec.lints import lint_spec
from oneie_tui.spec.loader import parse_spec_text
from oneie_tui.views.plan import build_plan

LINT_BAR = 0.3  # the editor lints after each 0.3 s pause in typing
PLAN_BAR = 1.0


def squad(n: int, chain: bool) -> str:
    lines = ['[feature]\nname = "big"\ndescription = "x"\nacceptance = ["y"]\n',
             '[feature.ontology]\nthings = ["course"]\n']
    for i in range(n):
        lines.append(
            f'[[agents]]\nid = "a{i}"\ntask = "Course schema part {i}, then the api of a{i + 1}"\n'
            f'emits = ["part{i}_ready", "schema_ready{i}x_done"]\nestimate = "{1 + i % 5}h"\n'
            + (f'after = ["part{i - 1}_ready"]\n' if chain and i else "")
        )
    return "".join(lines)


def median_s(func: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        func()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--agents", type=int, default=1000)
    args = parser.parse_args()
    ok = True
    for chain in (False, True):
        spec = parse_spec_text(squad(args.agents, chain))
        lint = median_s(lambda: lint_spec(spec), args.runs)  # noqa: B023 - used at once
        plan = median_s(lambda: build_plan(spec, max_parallel=7), args.runs)  # noqa: B023
        shape = "one chain" if chain else "all at once"
        print(f"  {args.agents} agents, {shape:<11}  lints {lint * 1000:6.1f} ms   plan (max_parallel 7) "
              f"{plan * 1000:6.1f} ms   (median of {args.runs})")
        ok = ok and lint < LINT_BAR and plan < PLAN_BAR
    print(f"bar lints < {LINT_BAR}s, plan < {PLAN_BAR}s: {'met' if ok else 'NOT MET'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
