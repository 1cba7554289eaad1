"""Benchmark (b): events from agents through the bus into SQLite, events/s sustained.

Two figures, measured side by side in one process:
- end to end: sim agents streaming output as fast as they can (high `lines_per_second`),
  the run store attached; the clock stops when the run has returned, which is after the
  writer has committed every event (the runner closes the writer before it returns);
- bare: events published straight on an `EventBus` whose only subscriber is the writer;
- previous writer: end to end again, with the writer as it was before 2026-11-28 22:10
  (500-row INSERTs inside BEGIN/COMMIT, the generic JSON encoder), for the ratio.

Bar: >= 100,000 events/s. Usage: python benchmarks/bench_engine_events.py [--repeat N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from oneie_tui.agents.sim import SimBackend
from oneie_tui.engine.runner import Runner
from oneie_tui.events import EventBus, encode_json
from oneie_tui.spec.loader import parse_spec_text
from oneie_tui.store import sqlite as store_module
from oneie_tui.store.sqlite import EventWriter, RunStore

BAR = 100_000


def spec_text(agents: int, duration: float, lines_per_second: float) -> str:
    blocks = "".join(
        f'[[agents]]\nid = "agent-{i}"\nrole = "backend"\n'
        f"sim = {{ duration = {duration}, lines_per_second = {lines_per_second} }}\n"
        for i in range(agents)
    )
    return '[feature]\nname = "events bench"\n' + blocks


@dataclass
class Trial:
    events: int
    wall_s: float
    cpu_s: float  # the whole process
    writer_cpu_s: float  # the writer thread alone

    @property
    def rate(self) -> float:
        return self.events / self.wall_s


def end_to_end(folder: Path, agents: int, duration: float, lps: float) -> Trial:
    store = RunStore(folder / f"e2e-{time.monotonic_ns()}.sqlite3")
    spec = parse_spec_text(spec_text(agents, duration, lps))
    sim = SimBackend()
    writers: list[EventWriter] = []
    make_writer = store.writer

    def recorded_writer() -> EventWriter:
        writers.append(make_writer())
        return writers[-1]

    store.writer = recorded_writer  # type: ignore[method-assign]
    runner = Runner(spec, lambda _a: sim, store=store)
    started, cpu = time.perf_counter(), time.process_time()
    anyio.run(runner.run)  # returns after the writer has committed everything
    trial = Trial(runner.bus.last_seq, time.perf_counter() - started, time.process_time() - cpu,
                  writers[0].cpu_seconds)
    count = store.count_events(runner.run_id)
    assert count == runner.bus.last_seq, (count, runner.bus.last_seq)
    store.close()
    return trial


def previous_commit(self: EventWriter, conn: Any, batch: list[Any]) -> None:
    """The writer's commit before one-statement batches and the direct output encoding."""
    conn.execute("BEGIN")
    try:
        for start in range(0, len(batch), 500):
            chunk = batch[start : start + 500]
            params: list[Any] = []
            for e in chunk:
                params.extend((e.run_id, e.seq, e.ts, e.type, e.actor, e.target, e.group,
                               encode_json(e.metadata)))
            conn.execute(store_module._insert_rows_sql(len(chunk)), params)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    self.committed_seq = batch[-1].seq


def end_to_end_previous(folder: Path, agents: int, duration: float, lps: float) -> Trial:
    current, most = EventWriter._commit, store_module.MAX_ROWS
    EventWriter._commit = previous_commit  # type: ignore[method-assign]
    store_module.MAX_ROWS = 2000  # its batch size
    try:
        return end_to_end(folder, agents, duration, lps)
    finally:
        EventWriter._commit = current  # type: ignore[method-assign]
        store_module.MAX_ROWS = most


def bare(folder: Path, n: int) -> Trial:
    store = RunStore(folder / f"bare-{time.monotonic_ns()}.sqlite3")
    writer = store.writer()
    bus = EventBus("bare", time.time)
    bus.subscribe(writer.put)
    started, cpu = time.perf_counter(), time.process_time()
    for i in range(n):
        bus.publish("agent_output", "agent-1", metadata={"text": f"Writing mutation course ({i})", "stream": "stdout"})
    writer.close()
    trial = Trial(n, time.perf_counter() - started, time.process_time() - cpu, writer.cpu_seconds)
    assert writer.error is None and store.count_events("bare") == n
    store.close()
    return trial


def report(trials: list[Trial]) -> None:
    rates = [t.rate for t in trials]
    cpu = statistics.median(t.events / t.cpu_s for t in trials)
    writer = statistics.median(t.events / t.writer_cpu_s for t in trials if t.writer_cpu_s)
    print(f"  events/s, wall (median of {len(trials)}): {statistics.median(rates):,.0f}"
          f"   runs: {', '.join(f'{r:,.0f}' for r in rates)}")
    print(f"  events per CPU-second: whole process {cpu:,.0f}; writer thread alone {writer:,.0f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--agents", type=int, default=8)
    parser.add_argument("--duration", type=float, default=1.0)
    parser.add_argument("--lps", type=float, default=50_000.0, help="lines per second per agent")
    parser.add_argument("--bare-events", type=int, default=300_000)
    args = parser.parse_args()
    e2e: list[Trial] = []
    raw: list[Trial] = []
    before: list[Trial] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for _ in range(args.repeat):  # side by side, alternating
            e2e.append(end_to_end(folder, args.agents, args.duration, args.lps))
            raw.append(bare(folder, args.bare_events))
            before.append(end_to_end_previous(folder, args.agents, args.duration, args.lps))
    print(f"end to end: {args.agents} sim agents x {args.duration:g}s at {args.lps:,.0f} lines/s, "
          f"store attached: {e2e[0].events:,} events per run")
    report(e2e)
    print(f"bare bus -> writer -> SQLite: {args.bare_events:,} events")
    report(raw)
    print("end to end with the previous writer (500-row INSERTs in BEGIN/COMMIT, generic JSON):")
    report(before)
    e2e_median = statistics.median(t.rate for t in e2e)
    print(f"  ratio now / previous (medians, same run): {e2e_median / statistics.median(t.rate for t in before):.2f}x")
    raw_median = statistics.median(t.rate for t in raw)
    ok = e2e_median >= BAR and raw_median >= BAR
    print(f"bar >= {BAR:,} events/s: {'met' if ok else 'NOT MET'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
