"""History of 10,000 runs: the history screen opens in under 1 s (bar of issue 4).

A store with N finished runs (each with a real-sized spec text and run summary, five
agents, a few events) is built once; then, side by side in one fresh process:
- `RunStore.list_listings` (what the history screen reads: a few JSON fields in SQL)
  against `RunStore.list_runs` (every column, the whole summary parsed in Python);
- the history screen opened under `run_test` (160×44): app start to the table drawn
  (the newest runs; the rest load in a worker) and to the whole history loaded, medians
  of 5 opens; then a sort by speedup and a text filter over all runs, each timed.

Usage: .venv/bin/python benchmarks/bench_history_listing.py [--runs 10000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from oneie_tui.events import Event  # noqa: E402
from oneie_tui.store.sqlite import RunStore  # noqa: E402

SPEC = (ROOT / "specs" / "payment-squad.toml").read_text(encoding="utf-8")
SPECS = ["Course CRUD", "Payment workflow", "Authentication system", "RAG system", "Docs and impl"]


def build(store: RunStore, runs: int) -> float:
    started = time.perf_counter()
    t0 = 1_767_225_600.0
    agents = [f"agent-{n}" for n in ("backend", "frontend", "integration", "designer", "quality")]
    for i in range(runs):
        run_id = f"20260101-{i:06d}-{i % 4096:03x}"
        st = t0 + i * 60
        status = ("completed", "failed", "cancelled")[i % 10 % 3] if i % 10 >= 8 else "completed"
        store.create_run(run_id, SPECS[i % len(SPECS)], SPEC, "specs/payment-squad.toml", st)
        store.insert_events([
            Event(1, run_id, st, "run_started", metadata={"agents": agents}),
            Event(2, run_id, st + 2.0, "run_finished", metadata={"status": status}),
        ])
        summary = {
            "run_id": run_id, "status": status, "wall_s": 2.0 + i % 7, "sequential_s": 7.0,
            "speedup": 7.0 / (2.0 + i % 7), "utilization": 0.4, "critical_path_s": 3.5,
            "ideal_speedup": 2.0, "critical_path": agents[:3], "input_tokens": 1000 + i,
            "output_tokens": 300, "cache_write_tokens": 0, "cache_read_tokens": 0,
            "cost_usd": 0.01 * (i % 13),
            "agents": [{"id": a, "status": "completed", "active_s": 1.0, "input_tokens": 200,
                        "output_tokens": 60, "cost_usd": 0.002} for a in agents],
        }
        store.finish_run(run_id, st + 2.0, status, summary)
    return time.perf_counter() - started


def measure(store_path: str, opens: int = 5) -> dict[str, float]:
    from oneie_tui.ui.app import OneieApp
    from oneie_tui.ui.screens.history import HistoryScreen

    out: dict[str, float] = {}
    store = RunStore(store_path)
    for name, fn in (("list_listings", store.list_listings), ("list_runs", store.list_runs)):
        times = []
        for _ in range(3):
            t = time.perf_counter()
            rows = fn()
            times.append(time.perf_counter() - t)
        out[f"{name}_s"] = statistics.median(times)
        out[f"{name}_rows"] = float(len(rows))
    frames: list[float] = []
    loaded: list[float] = []

    async def open_once(last: bool) -> None:
        t_start = time.perf_counter()
        app = OneieApp(None, store_path=Path(store_path), cursor_blink=False,
                       initial_screen_factory=lambda: HistoryScreen(store))
        async with app.run_test(size=(160, 44)) as pilot:
            while not isinstance(app.screen, HistoryScreen) or not app.screen.is_mounted:
                await pilot.pause()
            await pilot.pause()
            frames.append(time.perf_counter() - t_start)
            screen = app.screen
            assert isinstance(screen, HistoryScreen)
            out["first_frame_rows"] = float(len(screen.rows))
            while not screen.complete:
                await pilot.pause(0.01)
            loaded.append(time.perf_counter() - t_start)
            await pilot.pause()
            out["table_rows"] = float(len(screen.rows))
            if last:
                t = time.perf_counter()
                screen.sort_by("speedup", True)
                await pilot.pause()
                out["sort_speedup_s"] = time.perf_counter() - t
                t = time.perf_counter()
                screen.set_filter("rag")
                await pilot.pause()
                out["filter_text_s"] = time.perf_counter() - t
                out["filtered_rows"] = float(len(screen.rows))
                out["rss_peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            await pilot.press("q")

    for i in range(opens):
        asyncio.run(open_once(i == opens - 1))
    out["open_s"] = statistics.median(frames)
    out["open_max_s"] = max(frames)
    out["all_loaded_s"] = statistics.median(loaded)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--keep", help="folder for the generated store (reused if present)")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return
    folder = Path(args.keep or tempfile.mkdtemp(prefix="oneie-bench-history-"))
    folder.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict[str, float]] = {}
    for runs in (100, args.runs):
        path = folder / f"history-{runs}.sqlite3"
        store = RunStore(path)
        gen = build(store, runs) if not store.list_listings(limit=1) else 0.0
        store.close()
        done = subprocess.run([sys.executable, __file__, "--measure", str(path)],
                              capture_output=True, text=True, check=True)
        results[str(runs)] = {"build_s": gen, **json.loads(done.stdout.strip().splitlines()[-1])}
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    keys = sorted({k for r in results.values() for k in r})
    print(f"{'figure':22}" + "".join(f"{k:>14}" for k in results))
    for key in keys:
        print(f"{key:22}" + "".join(f"{r.get(key, float('nan')):14.4f}" for r in results.values()))
    big = results[str(args.runs)]
    print(f"bar history opens < 1 s: {big['open_s']:.3f} s -> {'PASS' if big['open_s'] < 1 else 'FAIL'}")


if __name__ == "__main__":
    main()
