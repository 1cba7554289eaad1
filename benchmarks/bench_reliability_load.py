"""Load (issue 7, item 13): 100 sim agents with max_parallel = 0, each emitting about 1,000
events (100,000 in all), with the dashboard under `run_test` (headless, 200×60), a real
runner and the real store.

Measured: how long a key press takes to be acted on while the load runs. `p` goes through
the driver (as a terminal sends it, nobody waits for idle) to the focused panel every
0.1 s (after the previous press was acted on); latency runs from the key to the runner's `agent_paused`/`agent_resumed` event.
The bar is p95 < 100 ms. Also checked after the run: every event is in the store and seq is
gap-free.

Usage: .venv/bin/python benchmarks/bench_reliability_load.py [--agents 100] [--events 1000]
       [--seconds 5] [--runs 1]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sqlite3
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


def spec_text(agents: int, seconds: float, per_agent: int) -> str:
    rate = per_agent / seconds
    out = ['[feature]\nname = "Load"\n\n[run]\nbackend = "sim"\nmax_parallel = 0\n']
    for i in range(agents):
        out.append(
            f'[[agents]]\nid = "agent-{i:03d}"\nrole = "worker"\n'
            f"sim = {{ duration = {seconds}, lines_per_second = {rate} }}\n"
        )
    return "\n".join(out)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))] if ordered else 0.0


async def measure(agents: int, per_agent: int, seconds: float) -> dict[str, float | int | bool]:
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "load.toml"
        spec.write_text(spec_text(agents, seconds, per_agent), encoding="utf-8")
        db = Path(tmp) / "runs.sqlite3"
        app = OneieApp(spec, store_path=db, options=RunOptions(), cursor_blink=False)
        async with app.run_test(size=(200, 60)) as pilot:
            await pilot.pause(0.3)
            dash = app.dashboard
            assert dash is not None
            assert await app._start_run(dash.editor.text)
            live = app.live
            assert live is not None
            runner = live.runner
            first = "agent-000"
            for _ in range(200):
                if app.focused is dash.grid.panels[first]:
                    break
                await asyncio.sleep(0.01)
            assert app.focused is dash.grid.panels[first]
            driver = app._driver
            assert driver is not None
            acted = asyncio.Event()
            acted_at: list[float] = []

            def on_event(e: Event) -> None:
                if e.actor == first and e.type in ("agent_paused", "agent_resumed"):
                    acted_at.append(time.perf_counter())
                    acted.set()

            runner.bus.subscribe(on_event)
            latencies: list[float] = []
            missed = 0
            t0 = time.perf_counter()
            while app.running:
                await asyncio.sleep(0.1)
                others_running = sum(s.status == "running" for a, s in runner.agents.items() if a != first)
                if others_running == 0:
                    if runner.agents[first].paused:
                        runner.resume(first)  # the load is over: let the run end
                    continue
                seen = len(acted_at)
                acted.clear()
                t_press = time.perf_counter()
                driver.send_message(events.Key("p", "p"))
                try:
                    await asyncio.wait_for(acted.wait(), timeout=2.0)
                    latencies.append(acted_at[seen] - t_press)
                except TimeoutError:
                    missed += 1
                    latencies.append(2.0)
            run_s = time.perf_counter() - t0
            last_seq = runner.bus.last_seq
            await pilot.pause(0.2)
        conn = sqlite3.connect(db)
        seqs = [r[0] for r in conn.execute("SELECT seq FROM events WHERE run_id=? ORDER BY seq", (runner.run_id,))]
        outputs = conn.execute(
            "SELECT COUNT(*) FROM events WHERE run_id=? AND type='agent_output'", (runner.run_id,)
        ).fetchone()[0]
        conn.close()
    return {
        "events": len(seqs),
        "outputs": outputs,
        "gap_free": seqs == list(range(1, len(seqs) + 1)),
        "all_stored": len(seqs) == last_seq,
        "run_s": run_s,
        "presses": len(latencies),
        "missed": missed,
        "p95_ms": p95(latencies) * 1000,
        "median_ms": statistics.median(latencies) * 1000 if latencies else 0.0,
        "max_ms": max(latencies, default=0.0) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--agents", type=int, default=100)
    parser.add_argument("--events", type=int, default=1000, help="output events per agent")
    parser.add_argument("--seconds", type=float, default=5.0, help="how long each agent streams")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    print(
        f"machine: {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average {os.getloadavg()[0]:.1f} (shared)"
    )
    print(f"load: {args.agents} sim agents × {args.events} events over {args.seconds:g} s, max_parallel = 0, "
          "dashboard under run_test 200×60")
    print("| run | events stored | output events | gap-free | every published event stored | run wall | "
          "presses | key→acted p95 | median | max | missed (>2 s) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for i in range(args.runs):
        r = asyncio.run(measure(args.agents, args.events, args.seconds))
        print(
            f"| {i + 1} | {r['events']:,} | {r['outputs']:,} | {r['gap_free']} | {r['all_stored']} | "
            f"{r['run_s']:.2f} s | {r['presses']} | {r['p95_ms']:.1f} ms | {r['median_ms']:.1f} ms | "
            f"{r['max_ms']:.1f} ms | {r['missed']} |"
        )


if __name__ == "__main__":
    main()
