"""Replay of a huge run: 1,000,000 events open in the replay screen; first frame < 2 s and
memory < 500 MB (bars of issue 4). The timeline and the fold page from SQLite.

Phases (each timed in this process, headless Textual via `run_test`, 160×44):
1. generate: a run of N events (40 agents; mostly output lines, progress, coordination
   events) inserted straight into a fresh store with `RunStore.insert_events` in batches;
2. a fresh subprocess opens `ReplayScreen` on it and measures: first frame (app start to
   the replay screen drawn), peak RSS; then seeks: to the end (cold: folds every event),
   back to the middle (from a checkpoint), one step back, and a Gantt picture at the end;
3. the same numbers for a 1,000-event run, for scale.

Usage: .venv/bin/python benchmarks/bench_history_replay.py [--events 1000000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from oneie_tui.events import Event  # noqa: E402
from oneie_tui.store.sqlite import RunStore  # noqa: E402

AGENTS = 10  # --agents
BATCH = 50_000
RUN_ID = "bench-replay"


def spec_text(agents: int) -> str:
    out = ['[feature]\nname = "Huge run"\n\n[run]\nbackend = "sim"\n']
    for i in range(agents):
        after = f'after = ["step_{i - 1}_ready"]\n' if i % 8 else ""
        out.append(
            f'\n[[agents]]\nid = "agent-{i:02d}"\nrole = "backend"\ntask = "part {i}"\n'
            f'emits = ["step_{i}_ready"]\n{after}'
        )
    return "".join(out)


def generate(store: RunStore, total: int, run_id: str = RUN_ID) -> float:
    """A run of `total` events over about total/2000 seconds. Returns seconds taken."""
    started = time.perf_counter()
    rng = random.Random(7)
    ids = [f"agent-{i:02d}" for i in range(AGENTS)]
    t0 = 1_767_225_600.0
    duration = max(10.0, total / 2000)
    store.create_run(run_id, "Huge run", spec_text(AGENTS), None, t0)
    seq = 0
    batch: list[Event] = []

    def add(t: float, kind: str, actor: str = "runner", **md: Any) -> None:
        nonlocal seq
        seq += 1
        batch.append(Event(seq, run_id, t0 + t, kind, actor, "", "", md))
        if len(batch) >= BATCH:
            store.insert_events(batch)
            batch.clear()

    add(0.0, "run_started", spec="Huge run", agents=ids, launch=ids, backend="sim")
    for a in ids:
        add(0.0, "agent_queued", a, attempt=1)
        add(0.0, "agent_started", a, attempt=1, backend="sim")
    body = total - seq - AGENTS - 1
    for k in range(body):
        t = duration * k / body
        a = ids[k % AGENTS]
        r = rng.random()
        if r < 0.90:
            add(t, "agent_output", a, text=f"working on part {k} of {a}: {'x' * rng.randrange(20, 60)}")
        elif r < 0.985:
            add(t, "agent_progress", a, percent=round(100 * k / body, 1))
        elif r < 0.995:
            add(t, "usage", a, input_tokens=120, output_tokens=40, cost_usd=0.0012)
        else:
            add(t, "task_event", a, action=f"step_{k % AGENTS}_ready", by=a)
    for a in ids:
        add(duration, "agent_completed", a, attempt=1, summary="done")
    add(duration, "run_finished", status="completed")
    if batch:
        store.insert_events(batch)
    store.finish_run(run_id, t0 + duration, "completed", {"wall_s": duration})
    return time.perf_counter() - started


def measure(store_path: str, run_id: str, opens: int = 3) -> dict[str, float]:
    """In this (fresh) process: open the replay screen `opens` times (median first frame),
    then time the seeks a user waits for."""
    import statistics

    from oneie_tui.ui.app import OneieApp
    from oneie_tui.ui.screens.replay import ReplayScreen
    from oneie_tui.views.replay_clock import Replay

    out: dict[str, float] = {}
    store = RunStore(store_path)
    frames: list[float] = []

    async def open_once(last: bool) -> None:
        t_start = time.perf_counter()
        app = OneieApp(None, store_path=Path(store_path), cursor_blink=False,
                       initial_screen_factory=lambda: ReplayScreen(store, run_id, autoplay=False))
        async with app.run_test(size=(160, 44)) as pilot:
            while not isinstance(app.screen, ReplayScreen) or not app.screen.is_mounted:
                await pilot.pause()
            await pilot.pause()  # the first frame is on screen
            frames.append(time.perf_counter() - t_start)
            out.setdefault("rss_first_frame_mb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
            screen = app.screen
            assert isinstance(screen, ReplayScreen)
            if not last:
                screen._stop_index.set()
                await pilot.press("q")
                return
            # The screen's background index: time until every checkpoint exists.
            replay = screen.replay
            target = replay.last_seq // replay.checkpoint_every + 1
            t = time.perf_counter()
            while len(replay._checkpoint_seqs) < target:
                await pilot.pause(0.05)
            out["background_index_s"] = time.perf_counter() - t
            t = time.perf_counter()
            replay.seek_seq(replay.last_seq * 3 // 4)
            out["seek_3q_indexed_s"] = time.perf_counter() - t
            t = time.perf_counter()
            replay.seek_seq(replay.last_seq // 2 + 1234)
            out["seek_back_to_middle_s"] = time.perf_counter() - t
            t = time.perf_counter()
            replay.step(-1)
            out["step_back_s"] = time.perf_counter() - t
            t = time.perf_counter()
            replay.step(1)
            out["step_forward_s"] = time.perf_counter() - t
            t = time.perf_counter()
            replay.seek_time(replay.duration * 0.25)
            out["seek_time_quarter_s"] = time.perf_counter() - t
            replay.to_end()
            t = time.perf_counter()
            page = replay.timeline_page(200)
            out["timeline_page_s"] = time.perf_counter() - t
            out["timeline_page_rows"] = float(len(page))
            t = time.perf_counter()
            replay.gantt()
            out["gantt_model_s"] = time.perf_counter() - t
            t = time.perf_counter()
            await screen._frame()
            await pilot.pause()
            out["frame_after_seek_s"] = time.perf_counter() - t
            # The all-events log (virtual, paged from SQLite): open at the tail, jump to
            # the middle of a million lines.
            from oneie_tui.ui.widgets.event_log import EventLog

            t = time.perf_counter()
            screen.action_toggle_log()
            await pilot.pause()
            out["event_log_open_s"] = time.perf_counter() - t
            log = screen.query_one(EventLog)
            t = time.perf_counter()
            log.scroll_to(y=log.virtual_size.height // 2, animate=False)
            await pilot.pause()
            out["event_log_jump_middle_s"] = time.perf_counter() - t
            out["event_log_lines"] = float(log.virtual_size.height)
            out["checkpoints"] = float(len(replay._checkpoint_seqs))
            out["rss_peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            await pilot.press("q")

    for i in range(opens):
        asyncio.run(open_once(i == opens - 1))
    out["first_frame_s"] = statistics.median(frames)
    out["first_frame_max_s"] = max(frames)
    # Cold: a fresh replay folding every event to the end (no checkpoints yet), alone.
    cold = Replay(store, run_id)
    t = time.perf_counter()
    cold.to_end()
    out["seek_end_cold_s"] = time.perf_counter() - t
    return out


def run_child(store_path: Path) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, __file__, "--measure", str(store_path)],
        capture_output=True, text=True, check=True,
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--agents", type=int, default=AGENTS)
    parser.add_argument("--keep", help="folder for the generated store (reused if present)")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    globals()["AGENTS"] = args.agents
    if args.measure:
        print(json.dumps(measure(args.measure, RUN_ID)))
        return
    folder = Path(args.keep or tempfile.mkdtemp(prefix="oneie-bench-replay-"))
    folder.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {}
    for total in (1_000, args.events):
        path = folder / f"replay-{total}-{args.agents}a.sqlite3"
        store = RunStore(path)
        gen = 0.0
        if not store.has_run(RUN_ID):
            gen = generate(store, total)
        count = store.count_events(RUN_ID)
        size_mb = path.stat().st_size / 1e6
        store.close()
        figures = run_child(path)
        results[str(total)] = {"events": count, "generate_s": gen, "db_mb": size_mb, **figures}
    print(f"machine: {platform.machine()}, {__import__('os').cpu_count()} cores, "
          f"python {platform.python_version()}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    keys = sorted({k for r in results.values() for k in r})
    print(f"{'figure':28}" + "".join(f"{k:>16}" for k in results))
    for key in keys:
        row = "".join(f"{float(r.get(key, float('nan'))):16.4f}" for r in results.values())
        print(f"{key:28}{row}")
    big = results[str(args.events)]
    print(f"bar first frame < 2 s: {big['first_frame_s']:.3f} s -> {'PASS' if big['first_frame_s'] < 2 else 'FAIL'}")
    print(f"bar memory < 500 MB: {big['rss_peak_mb']:.0f} MB -> {'PASS' if big['rss_peak_mb'] < 500 else 'FAIL'}")


if __name__ == "__main__":
    main()
