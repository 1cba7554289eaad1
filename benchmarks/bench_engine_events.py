"""Benchmark (b): events from agents through the bus into SQLite, events/s sustained.

Two figures, measured side by side in one process:
- end to end: sim agents streaming output as fast as they can (high `lines_per_second`),
  the run store attached; the clock stops when the run has returned, which is after the
  writer has committed every event (the runner closes the writer before it returns);
- bare: events published straight on an `EventBus` whose only subscriber is the writer.

Bar: >= 100,000 events/s. Usage: python benchmarks/bench_engine_events.py [--repeat N]
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

from oneie_tui.agents.sim import SimBackend  # noqa: E402
from oneie_tui.events import EventBus  # noqa: E402
from oneie_tui.runner import Runner  # noqa: E402
from oneie_tui.specfile import parse_spec_text  # noqa: E402
from oneie_tui.store import RunStore  # noqa: E402

BAR = 100_000


def spec_text(agents: int, duration: float, lines_per_second: float) -> str:
    blocks = "".join(
        f'[[agents]]\nid = "agent-{i}"\nrole = "backend"\n'
        f"sim = {{ duration = {duration}, lines_per_second = {lines_per_second} }}\n"
        for i in range(agents)
    )
    return '[feature]\nname = "events bench"\n' + blocks


def end_to_end(folder: Path, agents: int, duration: float, lps: float) -> tuple[float, int]:
    store = RunStore(folder / f"e2e-{time.monotonic_ns()}.sqlite3")
    spec = parse_spec_text(spec_text(agents, duration, lps))
    sim = SimBackend()
    runner = Runner(spec, lambda _a: sim, store=store)
    started = time.perf_counter()
    anyio.run(runner.run)
    elapsed = time.perf_counter() - started
    count = store.count_events(runner.run_id)
    assert count == runner.bus.last_seq, (count, runner.bus.last_seq)
    store.close()
    return count / elapsed, count


def bare(folder: Path, n: int) -> float:
    store = RunStore(folder / f"bare-{time.monotonic_ns()}.sqlite3")
    writer = store.writer()
    bus = EventBus("bare", time.time)
    bus.subscribe(writer.put)
    started = time.perf_counter()
    for i in range(n):
        bus.publish("agent_output", "agent-1", metadata={"text": f"Writing mutation course ({i})", "stream": "stdout"})
    writer.close()
    elapsed = time.perf_counter() - started
    assert writer.error is None and store.count_events("bare") == n
    store.close()
    return n / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--agents", type=int, default=8)
    parser.add_argument("--duration", type=float, default=1.0)
    parser.add_argument("--lps", type=float, default=50_000.0, help="lines per second per agent")
    parser.add_argument("--bare-events", type=int, default=300_000)
    args = parser.parse_args()
    e2e: list[float] = []
    raw: list[float] = []
    count = 0
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for _ in range(args.repeat):
            rate, count = end_to_end(folder, args.agents, args.duration, args.lps)
            e2e.append(rate)
            raw.append(bare(folder, args.bare_events))
    e2e_median, raw_median = statistics.median(e2e), statistics.median(raw)
    print(f"end to end: {args.agents} sim agents x {args.duration:g}s at {args.lps:,.0f} lines/s, "
          f"store attached: {count:,} events per run")
    print(f"  events/s (median of {args.repeat}): {e2e_median:,.0f}   runs: {', '.join(f'{r:,.0f}' for r in e2e)}")
    print(f"bare bus -> writer -> SQLite: {args.bare_events:,} events")
    print(f"  events/s (median of {args.repeat}): {raw_median:,.0f}   runs: {', '.join(f'{r:,.0f}' for r in raw)}")
    ok = e2e_median >= BAR and raw_median >= BAR
    print(f"bar >= {BAR:,} events/s: {'met' if ok else 'NOT MET'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
