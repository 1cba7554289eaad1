"""The dashboard with a crowd of process agents (issue 14, item 4): 1,000 `command` agents
running `sleep`, the app under `run_test` (headless, 200×60), a real runner and store.

Measures, per run:
- start: from the run's start to every agent `running` with its process started;
- key latency: `p` sent through the driver every 0.2 s for `--seconds` to whatever has
  focus (the crowd list's selected agent; on older code, the first panel); time from the
  press to the runner's pause/resume event (bar: p95 < 100 ms);
- memory: RSS before the run, and its peak during it (bounded: one line per agent, no
  panels mounted).

Usage: python benchmarks/bench_crowd_ui.py [--agents 1000] [--seconds 8] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

from textual import events

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from oneie_tui.engine.session import RunOptions  # noqa: E402
from oneie_tui.events import Event  # noqa: E402
from oneie_tui.ui.app import OneieApp  # noqa: E402


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def spec_text(agents: int, sleep: float) -> str:
    out = ['[feature]\nname = "Crowd"\n\n[run]\nbackend = "command"\nmax_parallel = 0\n']
    for i in range(agents):
        out.append(f'[[agents]]\nid = "agent-{i:04d}"\ncommand = {{ argv = ["sleep", "{sleep:g}"] }}\n')
    return "\n".join(out)


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))] if ordered else 0.0


async def measure(agents: int, seconds: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "crowd.toml"
        spec.write_text(spec_text(agents, seconds + 30), encoding="utf-8")
        app = OneieApp(spec, store_path=Path(tmp) / "runs.sqlite3", options=RunOptions(
            extra={"project_dir": tmp}), cursor_blink=False)
        async with app.run_test(size=(200, 60)) as pilot:
            await pilot.pause(0.3)
            dash = app.dashboard
            assert dash is not None
            rss_start = rss_mb()
            t0 = time.perf_counter()
            assert await app._start_run(dash.editor.text)
            live = app.live
            assert live is not None
            runner = live.runner
            started: set[str] = set()
            toggled: list[float] = []
            acted = asyncio.Event()

            def on_event(e: Event) -> None:
                if e.type == "agent_info" and "pid" in e.metadata:
                    started.add(e.actor)
                elif e.type in ("agent_paused", "agent_resumed"):
                    toggled.append(time.perf_counter())
                    acted.set()

            runner.bus.subscribe(on_event)
            peak = rss_mb()
            while len(started) < agents and time.perf_counter() - t0 < 120:
                await asyncio.sleep(0.05)
                peak = max(peak, rss_mb())
            start_s = time.perf_counter() - t0
            driver = app._driver
            assert driver is not None
            latencies: list[float] = []
            end = time.perf_counter() + seconds
            while time.perf_counter() < end:
                seen = len(toggled)
                acted.clear()
                t_press = time.perf_counter()
                driver.send_message(events.Key("p", "p"))  # as a terminal does: nobody waits for idle
                try:
                    await asyncio.wait_for(acted.wait(), timeout=2.0)
                except TimeoutError:
                    latencies.append(2.0)  # counted as 2 s: the key did not act in time
                if len(toggled) > seen:
                    latencies.append(toggled[seen] - t_press)
                peak = max(peak, rss_mb())
                await asyncio.sleep(0.2)
            runner.cancel_run("benchmark over")
            for _ in range(600):
                if not app.running:
                    break
                await asyncio.sleep(0.05)
    return {
        "start_s": start_s,
        "key_p95_ms": _p95(latencies) * 1000,
        "key_median_ms": statistics.median(latencies) * 1000 if latencies else 0.0,
        "presses": float(len(latencies)),
        "rss_start_mb": rss_start,
        "rss_peak_mb": peak,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average before: "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    runs = [asyncio.run(measure(args.agents, args.seconds)) for _ in range(args.repeat)]
    for r in runs:
        print("run: " + ", ".join(f"{k} {v:.1f}" for k, v in r.items()))
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    print(f"{args.agents} command agents, median of {args.repeat}: all started in {med['start_s']:.1f} s, "
          f"key->runner p95 {med['key_p95_ms']:.1f} ms (median {med['key_median_ms']:.1f} ms, "
          f"{med['presses']:.0f} presses), RSS {med['rss_start_mb']:.0f} MB before, peak {med['rss_peak_mb']:.0f} MB")


if __name__ == "__main__":
    main()
