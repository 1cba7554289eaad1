"""Run every benchmark in turn (`make bench`), each in its own process, and print their
output. Figures go by hand into docs/benchmarks.md with the machine and the date: these
numbers depend on the machine and on what else runs on it, so they are never asserted
in tests."""

from __future__ import annotations

import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ORDER = [
    ["bench_engine_startup.py"],
    ["bench_engine_overhead.py"],
    ["bench_engine_events.py"],
    ["bench_process_backends.py"],
    ["bench_crowd_processes.py"],
    ["bench_crowd_ui.py"],
    ["bench_ui_throughput.py"],
    ["bench_reliability_load.py"],
    ["bench_history_listing.py"],
    ["bench_history_replay.py"],
    ["bench_plan.py"],
    ["bench_land.py"],
    ["bench_store_engines.py"],
]


def main() -> int:
    only = set(sys.argv[1:])
    print(f"# {time.strftime('%Y-%m-%d %H:%M %Z')} · {platform.machine()} · "
          f"python {platform.python_version()} · {__import__('os').cpu_count()} cores")
    failed = []
    for script, *args in ORDER:
        if only and script not in only:
            continue
        print(f"\n## {script}", flush=True)
        result = subprocess.run([sys.executable, str(HERE / script), *args], check=False)
        if result.returncode != 0:
            failed.append(script)
    if failed:
        print(f"\nfailed to run: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
