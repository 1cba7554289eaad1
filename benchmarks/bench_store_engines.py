"""Benchmark (issue 18): the run store on PostgreSQL side by side with SQLite, in one run.

A real PostgreSQL server is started for the run (tests/fakes/pg_server.py: initdb in a
temporary folder, 127.0.0.1, a free port; durable settings, fsync on). Then, alternating
the engines, medians of `--repeat`:
- events/s end to end: sim agents streaming output as fast as they can through the
  runner into the store; the clock stops when the run has returned, which is after the
  writer committed every event (bar: PostgreSQL >= 50,000/s);
- watch latency: a writer publishes events at a steady rate; a reader on another
  connection (its own store object) waits on the store's follower (LISTEN/NOTIFY on
  PostgreSQL, polling on SQLite) and reads by seq; latency = read time - publish time,
  p50/p95 over every event (bar: p95 < 250 ms);
- 10,000 runs: `oneie runs` as a user types it (a fresh process, start to exit), and
  the history screen opened under `run_test` until the whole history is loaded.

Usage: python benchmarks/bench_store_engines.py [--repeat 3] [--runs 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import anyio

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from oneie_tui.agents.sim import SimBackend  # noqa: E402
from oneie_tui.engine.runner import Runner  # noqa: E402
from oneie_tui.events import Event  # noqa: E402
from oneie_tui.spec.loader import parse_spec_text  # noqa: E402
from oneie_tui.store.base import RunRow, Store  # noqa: E402
from oneie_tui.store.open import open_store  # noqa: E402
from tests.fakes.pg_server import running_server  # noqa: E402

EVENTS_BAR = 50_000
LATENCY_BAR_MS = 250.0
SPEC = (ROOT / "specs" / "payment-squad.toml").read_text(encoding="utf-8")


def spec_text(agents: int, duration: float, lps: float) -> str:
    blocks = "".join(
        f'[[agents]]\nid = "agent-{i}"\nrole = "backend"\n'
        f"sim = {{ duration = {duration}, lines_per_second = {lps} }}\n"
        for i in range(agents)
    )
    return '[feature]\nname = "events bench"\n' + blocks


def end_to_end(target: str, agents: int, duration: float, lps: float) -> float:
    store = open_store(target)
    spec = parse_spec_text(spec_text(agents, duration, lps))
    sim = SimBackend()
    runner = Runner(spec, lambda _a: sim, store=store)
    started = time.perf_counter()
    anyio.run(runner.run)  # returns after the writer has committed everything
    wall = time.perf_counter() - started
    assert store.count_events(runner.run_id) == runner.bus.last_seq
    store.close()
    return runner.bus.last_seq / wall


def watch_latency(target: str, events: int, rate: float) -> list[float]:
    """Latencies in ms of every event from publish (put) to a reader on another connection."""
    writer_store, reader_store = open_store(target), open_store(target)
    run_id = f"watch-{time.monotonic_ns()}"
    writer_store.create_run(run_id, "watch bench", "", None, time.time())
    sent: dict[int, float] = {}
    latencies: list[float] = []
    ready = threading.Event()

    def read() -> None:
        follower = reader_store.follow(run_id)
        seen = 0
        ready.set()
        while seen < events:
            if follower.wait(1.0):
                for e in reader_store.events(run_id, after_seq=seen):
                    latencies.append((time.perf_counter() - sent[e.seq]) * 1000)
                    seen = e.seq
        follower.close()

    reader = threading.Thread(target=read)
    reader.start()
    ready.wait()
    time.sleep(0.3)  # the follower listens before the first event
    writer = writer_store.writer()
    gap = 1.0 / rate
    start = time.perf_counter()
    for seq in range(1, events + 1):
        due = start + seq * gap
        if (pause := due - time.perf_counter()) > 0:
            time.sleep(pause)
        sent[seq] = time.perf_counter()
        writer.put(Event(seq, run_id, time.time(), "agent_output", "agent-1", metadata={"text": f"line {seq}", "stream": "stdout"}))
    reader.join(60)
    writer.close()
    writer_store.close()
    reader_store.close()
    return latencies


def fill(store: Store, runs: int) -> None:
    agents = [f"agent-{n}" for n in ("backend", "frontend", "integration", "designer", "quality")]
    t0 = 1_767_225_600.0
    for i in range(runs):
        run_id = f"20260101-{i:06d}-{i % 4096:03x}"
        st = t0 + i * 60
        summary = {
            "run_id": run_id, "status": "completed", "wall_s": 2.0 + i % 7, "sequential_s": 7.0,
            "speedup": 7.0 / (2.0 + i % 7), "input_tokens": 1000 + i, "output_tokens": 300,
            "cache_write_tokens": 0, "cache_read_tokens": 0, "cost_usd": 0.01 * (i % 13),
            "agents": [{"id": a, "status": "completed", "active_s": 1.0} for a in agents],
        }
        row = RunRow(run_id, "Payment workflow", "specs/payment-squad.toml", SPEC, st, st + 2.0,
                     "completed", summary, None, None)
        store.import_run(row, [Event(1, run_id, st, "run_started", metadata={"agents": agents}),
                               Event(2, run_id, st + 2.0, "run_finished", metadata=summary)])


def oneie_runs(target: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "oneie_tui", "runs", "--store", target], check=True,
                   capture_output=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    return time.perf_counter() - started


def history_open(target: str, runs: int) -> float:
    from oneie_tui.ui.app import OneieApp
    from oneie_tui.ui.screens.history import HistoryScreen

    store = open_store(target)
    app = OneieApp(None, store=store, initial_screen_factory=lambda: HistoryScreen(store), cursor_blink=False)

    async def go() -> float:
        started = time.perf_counter()
        async with app.run_test(size=(160, 44)) as pilot:
            screen = app.screen
            while not (isinstance(screen, HistoryScreen) and len(screen.all_rows) == runs):
                await pilot.pause(0.01)
                screen = app.screen
            return time.perf_counter() - started

    return asyncio.run(go())


def med(values: list[float]) -> float:
    return statistics.median(values)


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def side_by_side(title: str, engines: dict[str, str], repeat: int, measure: Callable[[str], float], unit: str) -> dict[str, float]:
    results: dict[str, list[float]] = {name: [] for name in engines}
    for _ in range(repeat):  # alternating the engines
        for name, target in engines.items():
            results[name].append(measure(target))
    print(title)
    for name, values in results.items():
        print(f"  {name:10} median {med(values):>12,.3f} {unit}   runs: {', '.join(f'{v:,.3f}' for v in values)}")
    return {name: med(values) for name, values in results.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--agents", type=int, default=8)
    parser.add_argument("--duration", type=float, default=1.0)
    parser.add_argument("--lps", type=float, default=50_000.0)
    parser.add_argument("--watch-events", type=int, default=2000)
    parser.add_argument("--watch-rate", type=float, default=1000.0, help="events/s the watched run writes")
    parser.add_argument("--runs", type=int, default=10_000)
    args = parser.parse_args()
    print(f"# {time.strftime('%Y-%m-%d %H:%M %Z')} · {platform.machine()} · {os.cpu_count()} cores · "
          f"python {platform.python_version()}")
    ok = True
    with running_server(durable=True) as server, tempfile.TemporaryDirectory() as tmp:
        print(f"PostgreSQL {server.bin.parent.name} on 127.0.0.1:{server.port} (fsync on); SQLite in {tmp}")
        engines = {"sqlite": str(Path(tmp) / "events.sqlite3"), "postgres": server.create_database("events")}
        rates = side_by_side(
            f"events/s end to end ({args.agents} sim agents x {args.duration:g}s at {args.lps:,.0f} lines/s):",
            engines, args.repeat, lambda t: end_to_end(t, args.agents, args.duration, args.lps), "events/s",
        )
        print(f"  ratio postgres / sqlite: {rates['postgres'] / rates['sqlite']:.2f}x;"
              f" bar >= {EVENTS_BAR:,}/s: {'met' if rates['postgres'] >= EVENTS_BAR else 'NOT MET'}")
        ok &= rates["postgres"] >= EVENTS_BAR

        print(f"watch latency, write -> reader on another connection ({args.watch_events:,} events"
              f" at {args.watch_rate:,.0f}/s, medians of {args.repeat}):")
        for name, target in engines.items():
            trials = [watch_latency(target, args.watch_events, args.watch_rate) for _ in range(args.repeat)]
            p50s, p95s = [med(t) for t in trials], [p95(t) for t in trials]
            print(f"  {name:10} p50 {med(p50s):7.1f} ms   p95 {med(p95s):7.1f} ms   (p95 runs: "
                  f"{', '.join(f'{v:.1f}' for v in p95s)})")
            ok &= med(p95s) < LATENCY_BAR_MS
        print(f"  bar p95 < {LATENCY_BAR_MS:.0f} ms on both: {'met' if ok else 'NOT MET'}")

        history = {"sqlite": str(Path(tmp) / "history.sqlite3"), "postgres": server.create_database("history")}
        for target in history.values():
            started = time.perf_counter()
            store = open_store(target)
            fill(store, args.runs)
            store.close()
            print(f"  (filled {args.runs:,} runs in {time.perf_counter() - started:.1f}s)")
        side_by_side(f"`oneie runs` with {args.runs:,} runs (fresh process, start to exit):",
                     history, args.repeat, oneie_runs, "s")
        side_by_side(f"history screen open to all {args.runs:,} runs loaded (run_test 160x44):",
                     history, args.repeat, lambda t: history_open(t, args.runs), "s")
    print(f"bars: {'all met' if ok else 'NOT all met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
