"""Dashboard throughput: 50 sim agents writing 400 lines/s each (20,000 events/s) for 10 s,
the app under `run_test` (headless, 200×60), a real runner and store.

Measures, side by side in one process:
- lag: how far the displayed state (the last event the widgets were redrawn with) is
  behind the runner, during the run (p95, max) and when the run ends (bar: ≤ 0.5 s);
- key latency: `p` pressed on the focused panel every 0.2 s; time from the press to the
  runner's pause/resume event (bar: p95 < 100 ms);
- memory: RSS sampled every 0.1 s (bounded: capped scrollback per panel);
- the naive baseline: the same load with one message and one panel redraw per event.

Usage: .venv/bin/python benchmarks/bench_ui_throughput.py [--seconds 10] [--agents 50]
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
from dataclasses import dataclass, field
from pathlib import Path

from textual import events
from textual.message import Message

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from oneie_tui.engine.session import RunOptions  # noqa: E402
from oneie_tui.events import Event  # noqa: E402
from oneie_tui.ui.app import OneieApp  # noqa: E402
from oneie_tui.ui.bridge import EventBridge  # noqa: E402
from oneie_tui.ui.screens.dashboard import DashboardScreen  # noqa: E402


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def spec_text(agents: int, seconds: float, rate: float) -> str:
    out = ['[feature]\nname = "Throughput"\n\n[run]\nbackend = "sim"\n']
    for i in range(agents):
        out.append(
            f'[[agents]]\nid = "agent-{i:02d}"\nrole = "worker"\n'
            f"sim = {{ duration = {seconds}, lines_per_second = {rate} }}\n"
        )
    return "\n".join(out)


class OneEvent(Message):
    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event


class NaiveBridge(EventBridge):
    """The baseline: every event becomes a message and a widget redraw."""

    screen: DashboardScreen | None = None

    def push(self, event: Event) -> None:
        self.events_in += 1
        if self.screen is not None:
            self.screen.post_message(OneEvent(event))

    def flush(self) -> bool:
        return False


class NaiveDashboard(DashboardScreen):
    def on_one_event(self, message: OneEvent) -> None:
        e = message.event
        self.view.apply(e)
        self.bridge.events_applied += 1
        self.bridge.applied_seq = e.seq
        view = self.view
        if e.actor in view.agents:
            self.grid.refresh_from(view, {e.actor}, self.clock())
        self.displayed_seq = e.seq


@dataclass
class Result:
    mode: str
    events: int = 0
    run_s: float = 0.0
    lag_end_s: float = 0.0
    lag_p95_s: float = 0.0
    lag_max_s: float = 0.0
    key_p95_ms: float = 0.0
    key_median_ms: float = 0.0
    key_presses: int = 0
    rss_start_mb: float = 0.0
    rss_peak_mb: float = 0.0
    rss_mid_mb: float = 0.0
    rss_quarters: list[float] = field(default_factory=list)
    offered_s: float = 0.0
    events_in_window: int = 0
    frames: int = 0
    drained: bool = True
    samples: list[float] = field(default_factory=list)


async def measure(mode: str, agents: int, seconds: float, rate: float, drain_limit: float) -> Result:
    result = Result(mode)
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "throughput.toml"
        spec.write_text(spec_text(agents, seconds, rate), encoding="utf-8")
        app = OneieApp(spec, store_path=Path(tmp) / "runs.sqlite3", options=RunOptions(), cursor_blink=False)
        async with app.run_test(size=(200, 60)) as pilot:
            await pilot.pause(0.3)
            dash = app.dashboard
            assert dash is not None
            if mode == "naive":
                naive = NaiveDashboard(
                    dash.editor.text, "throughput.toml", clock=app.now, control=app.control, cursor_blink=False
                )
                app.dashboard = naive
                await app.switch_screen(naive)
                await pilot.pause(0.3)
                dash = naive
            result.rss_start_mb = rss_mb()
            # Start the run like ctrl+r does, but keep handles for measuring.
            published: list[float] = [0.0]  # seq -> perf_counter when the runner published it
            key_events: list[float] = []
            assert await app._start_run(dash.editor.text)
            live = app.live
            assert live is not None
            runner = live.runner
            if mode == "naive":
                naive_bridge = NaiveBridge(live.view)
                naive_bridge.screen = dash
                live.bridge.detach()
                naive_bridge.attach(runner.bus)
                live.bridge = naive_bridge
                dash.bridge = naive_bridge
            first = "agent-00"
            driver = app._driver
            for _ in range(100):
                if app.focused is dash.grid.panels[first]:
                    break
                await asyncio.sleep(0.01)
            assert driver is not None and app.focused is dash.grid.panels[first]

            acted = asyncio.Event()

            def on_event(e: Event) -> None:
                published.append(time.perf_counter())
                if e.actor == first and e.type in ("agent_paused", "agent_resumed"):
                    key_events.append(time.perf_counter())
                    acted.set()

            runner.bus.subscribe(on_event)
            t_start = time.perf_counter()
            lags: list[float] = []
            presses: list[float] = []
            latencies: list[float] = []
            next_press = t_start + 0.5
            rss_quarters: dict[int, float] = {}
            peak = rss_mb()
            while app.running:
                await asyncio.sleep(0.1)
                now = time.perf_counter()
                last = len(published) - 1
                shown = dash.displayed_seq
                lags.append(0.0 if shown >= last else now - published[min(shown + 1, last)])
                peak = max(peak, rss_mb())
                quarter = int((now - t_start) / (seconds / 4))
                if 1 <= quarter <= 4 and quarter not in rss_quarters:
                    rss_quarters[quarter] = rss_mb()
                if now - t_start >= seconds and not result.offered_s:
                    result.offered_s = now - t_start
                    result.events_in_window = len(published) - 1
                if now >= next_press and now - t_start < seconds - 0.5:
                    seen = len(key_events)
                    acted.clear()
                    t_press = time.perf_counter()
                    # As a terminal does: the driver posts the key; nobody waits for idle.
                    driver.send_message(events.Key("p", "p"))
                    try:
                        await asyncio.wait_for(acted.wait(), timeout=2.0)
                    except TimeoutError:
                        latencies.append(2.0)  # counted as 2 s: the key did not act in time
                    if len(key_events) > seen:
                        latencies.append(key_events[seen] - t_press)
                    presses.append(t_press)
                    next_press = time.perf_counter() + 0.2
                elif now - t_start >= seconds - 0.5 and runner.agents[first].paused:
                    runner.resume(first)  # the press window is over: let the run end
            t_end = time.perf_counter()
            final = len(published) - 1
            drained = False
            while time.perf_counter() - t_end < drain_limit:
                if dash.displayed_seq >= final:
                    drained = True
                    break
                await asyncio.sleep(0.005)
            result.lag_end_s = time.perf_counter() - t_end
            result.drained = drained
            result.events = final
            result.run_s = t_end - t_start
            result.lag_p95_s = _p95(lags)
            result.lag_max_s = max(lags or [0.0])
            result.key_presses = len(presses)
            result.key_p95_ms = _p95(latencies) * 1000
            result.key_median_ms = statistics.median(latencies) * 1000 if latencies else 0.0
            result.rss_peak_mb = max(peak, rss_mb())
            result.rss_quarters = [rss_quarters.get(q, 0.0) for q in (1, 2, 3, 4)]
            result.frames = dash.frames
            if not drained:
                result.samples = [final - dash.displayed_seq]
            runner.cancel_run("benchmark over")
            await pilot.pause(0.2)
    return result


def _p95(values: list[float]) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def report(results: list[Result], args: argparse.Namespace) -> str:
    lines = [
        f"machine: {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} (shared with other work)",
        f"load: {args.agents} sim agents × {args.rate:g} lines/s for {args.seconds:g} s "
        f"= {args.agents * args.rate:,.0f} output events/s offered; app under run_test at 200×60",
        "",
        "| mode | events | run wall | events/s in the first "
        f"{args.seconds:g} s | lag at end | lag p95 (run) | lag max | key→runner p95 | key median | presses "
        "| RSS start | RSS at 25/50/75/100 % | RSS peak | frames |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        end = f"{r.lag_end_s:.3f} s" if r.drained else f"> {r.lag_end_s:.1f} s ({r.samples[0]:,} events behind)"
        lines.append(
            f"| {r.mode} | {r.events:,} | {r.run_s:.2f} s | "
            f"{r.events_in_window / r.offered_s if r.offered_s else 0:,.0f} | {end} | "
            f"{r.lag_p95_s:.3f} s | {r.lag_max_s:.3f} s | {r.key_p95_ms:.1f} ms | {r.key_median_ms:.1f} ms | "
            f"{r.key_presses} | {r.rss_start_mb:.0f} MB | "
            f"{' / '.join(f'{q:.0f}' for q in r.rss_quarters)} MB | {r.rss_peak_mb:.0f} MB | {r.frames} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=400.0)
    parser.add_argument("--modes", default="coalesced,naive")
    parser.add_argument("--drain-limit", type=float, default=30.0)
    args = parser.parse_args()
    results: list[Result] = []
    for mode in args.modes.split(","):
        results.append(asyncio.run(measure(mode, args.agents, args.seconds, args.rate, args.drain_limit)))
        print(f"{mode}: done", file=sys.stderr)
    print(report(results, args))


if __name__ == "__main__":
    main()
