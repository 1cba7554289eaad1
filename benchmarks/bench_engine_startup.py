"""Benchmark (c): `oneie --help` start-up time, in a fresh subprocess each time.

Reports the median of several runs (and the import of the CLI alone), bar < 0.3 s.
Usage: python benchmarks/bench_engine_startup.py [--runs 15]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

BAR = 0.3
ROOT = Path(__file__).resolve().parent.parent


def timed(argv: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    script = shutil.which("oneie", path=str(Path(sys.executable).parent)) or "oneie"
    cases = {
        "oneie --help (console script)": [script, "--help"],
        "python -m oneie_tui --help": [sys.executable, "-m", "oneie_tui", "--help"],
        "python -c pass (interpreter floor)": [sys.executable, "-c", "pass"],
    }
    timed(cases["oneie --help (console script)"])  # warm the page cache once
    results: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.runs):  # interleaved, so load changes hit every case alike
        for name, argv in cases.items():
            results[name].append(timed(argv))
    for name, times in results.items():
        print(f"  {name:<36} median {statistics.median(times) * 1000:6.1f} ms"
              f"  (min {min(times) * 1000:.1f}, max {max(times) * 1000:.1f}, n={len(times)})")
    median = statistics.median(results["oneie --help (console script)"])
    ok = median < BAR
    print(f"bar `oneie --help` < {BAR}s: {'met' if ok else 'NOT MET'} ({median:.3f}s)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
