"""Replay: a clock over a stored run's events, and the run's state as of that clock.

The state is a `RunView` folded with `RunView.apply`, the same fold the live dashboard
uses, so the last frame of a replay is the live run's last frame by construction.

Large runs: events are read from SQLite a page at a time; every `checkpoint_every` events
the fold is snapshotted, so seeking back or far ahead replays at most one checkpoint
interval (after the first pass, or after `build_index` has run in the background).
No Textual here.
"""

from __future__ import annotations

import bisect
import copy
import math
import threading
from collections.abc import Iterator
from dataclasses import dataclass

from oneie_tui.events import Event, EventType
from oneie_tui.store.base import Store
from oneie_tui.views.gantt_lanes import GanttModel, gantt_from_view
from oneie_tui.views.run_view import TIMELINE_TYPES, RunView, initial_view

SPEEDS: tuple[float, ...] = (1.0, 4.0, 16.0, math.inf)
PAGE = 2000
CHECKPOINT_EVERY = 5000
# Silences longer than this (a run interrupted, then resumed a day later) are skipped
# while playing; seeking still reaches any time.
MAX_IDLE_S = 30.0


def speed_label(speed: float) -> str:
    return "instant" if math.isinf(speed) else f"{speed:g}×"


def snapshot(view: RunView) -> RunView:
    """A deep copy that shares the (never mutated) Event objects of the timeline."""
    memo: dict[int, object] = {id(e): e for e in view.timeline}
    return copy.deepcopy(view, memo)


@dataclass
class Frame:
    """What changed since the last frame: agents to redraw, and whether the timeline did."""

    dirty: set[str]
    timeline: bool
    rebuilt: bool  # the whole view was replaced (seek back): redraw everything


class Replay:
    def __init__(
        self,
        store: Store,
        run_id: str,
        *,
        checkpoint_every: int = CHECKPOINT_EVERY,
        page: int = PAGE,
    ) -> None:
        self.store = store
        self.run = store.get_run(run_id)
        self.run_id = self.run.id
        self.page = page
        self.checkpoint_every = max(1, checkpoint_every)
        self.first_seq, self.last_seq = store.seq_bounds(self.run_id)
        first = store.event_at(self.run_id, self.first_seq) if self.first_seq else None
        last = store.event_at(self.run_id, self.last_seq) if self.last_seq else None
        self.origin = first.ts if first else self.run.started
        self.end_ts = last.ts if last else self.origin
        self._base = initial_view(self.run)
        self.view = snapshot(self._base)
        self.seq = 0  # the last applied event (0: none yet)
        self.t = 0.0  # the replay clock, seconds since the first event
        self.speed = SPEEDS[0]
        self.playing = False
        self._lock = threading.Lock()
        self._checkpoints: dict[int, RunView] = {0: snapshot(self._base)}
        self._checkpoint_seqs: list[int] = [0]
        self._ahead: list[Event] = []  # prefetched events after `seq`
        self._frame = Frame(set(), False, True)

    # --- facts ------------------------------------------------------------------

    @property
    def duration(self) -> float:
        return max(0.0, self.end_ts - self.origin)

    @property
    def count(self) -> int:
        return 0 if not self.last_seq else self.last_seq - self.first_seq + 1

    @property
    def now(self) -> float:
        """The replay clock as epoch seconds (what `RunHeader`/metrics take as `now`)."""
        return self.origin + self.t

    @property
    def at_end(self) -> bool:
        return self.seq >= self.last_seq

    def take_frame(self) -> Frame:
        """What changed since the previous call (for a widget's `refresh_from`)."""
        frame, self._frame = self._frame, Frame(set(), False, False)
        return frame

    def refresh_bounds(self) -> bool:
        """Re-read the run's extent (a run still being written, e.g. resumed). True if it grew."""
        first, last = self.store.seq_bounds(self.run_id)
        if last <= self.last_seq:
            return False
        if not self.first_seq:
            head = self.store.event_at(self.run_id, first)
            self.origin = head.ts if head else self.origin
        self.first_seq, self.last_seq = first, last
        tail = self.store.event_at(self.run_id, last)
        self.end_ts = tail.ts if tail else self.end_ts
        return True

    # --- moving -----------------------------------------------------------------

    def seek_seq(self, target: int) -> None:
        """Show the state right after event `target` (0: before the first event)."""
        target = max(0, min(self.last_seq, target))
        if target < self.first_seq:
            target = 0
        if target < self.seq or target - self.seq > self.checkpoint_every:
            base = self._nearest_checkpoint(target)
            if base > self.seq or target < self.seq:
                self._restore(base)
        self._apply_to(target)
        self.t = self._t_of_seq(target)

    def step_target(self, n: int) -> int:
        """The event `n` steps from here (negative: back); 0 is before the first."""
        if self.seq == 0 and n > 0:
            return min(self.last_seq, self.first_seq + n - 1)
        if self.seq + n < self.first_seq:
            return 0
        return max(0, min(self.last_seq, self.seq + n))

    def step(self, n: int = 1) -> None:
        """Move `n` events forward (negative: back)."""
        self.seek_seq(self.step_target(n))

    def time_target(self, t: float) -> tuple[int, float]:
        """(the last event at or before `t` seconds, `t` clamped to the run)."""
        t = max(0.0, min(self.duration, t))
        target = self.store.seq_at_time(self.run_id, self.origin + t) if self.last_seq else 0
        return target, t

    def seek_time(self, t: float) -> None:
        """Show the state as of `t` seconds after the first event."""
        target, t = self.time_target(t)
        self.seek_seq(target)
        self.t = t

    def fold_cost(self, target: int) -> int:
        """How many events a seek to `target` must fold (from here or a checkpoint)."""
        target = max(0, min(self.last_seq, target))
        base = self._nearest_checkpoint(target)
        if self.seq <= target:
            base = max(base, self.seq)
        return max(0, target - base)

    def to_end(self) -> None:
        self.seek_seq(self.last_seq)
        self.t = self.duration

    def play(self) -> None:
        if self.at_end:
            self.seek_seq(0)
        self.playing = True

    def pause(self) -> None:
        self.playing = False

    def toggle(self) -> bool:
        if self.playing:
            self.pause()
        else:
            self.play()
        return self.playing

    def set_speed(self, speed: float) -> None:
        self.speed = speed

    def cycle_speed(self) -> float:
        i = SPEEDS.index(self.speed) if self.speed in SPEEDS else 0
        self.speed = SPEEDS[(i + 1) % len(SPEEDS)]
        return self.speed

    def tick(self, real_dt: float) -> bool:
        """Advance the clock by `real_dt` wall seconds at the current speed (when playing).
        Returns True if anything changed."""
        if not self.playing:
            return False
        before = self.seq
        if math.isinf(self.speed):
            self.to_end()
        else:
            target_t = self.t + real_dt * self.speed
            nxt = self._peek()
            if nxt is not None and nxt.ts - self.origin - target_t > MAX_IDLE_S:
                target_t = nxt.ts - self.origin  # skip a long silence
            self._play_until(self.origin + target_t)
            self.t = min(self.duration, target_t)
        if self.at_end and self.t >= self.duration:
            self.playing = False
        return self.seq != before or self.playing

    # --- the fold ---------------------------------------------------------------

    def _t_of_seq(self, seq: int) -> float:
        if seq == 0:
            return 0.0
        last = self.view.last_ts
        return max(0.0, (last if last is not None else self.origin) - self.origin)

    def _nearest_checkpoint(self, target: int) -> int:
        with self._lock:
            i = bisect.bisect_right(self._checkpoint_seqs, target) - 1
            return self._checkpoint_seqs[max(0, i)]

    def _restore(self, seq: int) -> None:
        with self._lock:
            self.view = snapshot(self._checkpoints[seq])
        self.seq = seq
        self._ahead = []
        self._frame = Frame(set(), True, True)

    def _remember(self, seq: int, view: RunView) -> None:
        with self._lock:
            if seq not in self._checkpoints:
                self._checkpoints[seq] = snapshot(view)
                bisect.insort(self._checkpoint_seqs, seq)

    def _peek(self) -> Event | None:
        if not self._ahead and self.seq < self.last_seq:
            start = max(self.seq + 1, self.first_seq)
            self._ahead = self.store.events_range(self.run_id, start, start + self.page - 1)
            self._ahead.reverse()  # pop() from the end is the next event
        return self._ahead[-1] if self._ahead else None

    def _apply_next(self) -> None:
        e = self._ahead.pop()
        self.view.apply(e)
        self.seq = e.seq
        frame = self._frame
        if e.actor != "runner":
            frame.dirty.add(e.actor)
        else:
            frame.dirty.update(self.view.agents)
        if e.type in TIMELINE_TYPES:
            frame.timeline = True
        if e.seq % self.checkpoint_every == 0:
            self._remember(e.seq, self.view)

    def _apply_to(self, target: int) -> None:
        while self.seq < target:
            nxt = self._peek()
            if nxt is None or nxt.seq > target:
                break
            self._apply_next()

    def _play_until(self, ts: float) -> None:
        while True:
            nxt = self._peek()
            if nxt is None or nxt.ts > ts:
                return
            self._apply_next()

    def build_index(self, stop: threading.Event | None = None) -> None:
        """Fold the whole run once, keeping a checkpoint every `checkpoint_every` events, so
        any later seek is fast. Safe to run in a worker thread beside the playing replay."""
        view = snapshot(self._base)
        for e in self._all_events():
            if stop is not None and stop.is_set():
                return
            view.apply(e)
            if e.seq % self.checkpoint_every == 0:
                self._remember(e.seq, view)

    def _all_events(self) -> Iterator[Event]:
        seq = self.first_seq
        while self.first_seq and seq <= self.last_seq:
            yield from self.store.events_range(self.run_id, seq, seq + self.page * 5 - 1)
            seq += self.page * 5

    # --- pictures that page from the store ---------------------------------------

    def timeline_page(self, limit: int = 200, up_to_seq: int | None = None) -> list[Event]:
        """The last `limit` timeline events at or before `up_to_seq` (default: now)."""
        seq = self.seq if up_to_seq is None else up_to_seq
        if seq <= 0:
            return []
        return self.store.events_of_types(self.run_id, sorted(TIMELINE_TYPES), up_to_seq=seq, limit=limit)

    def timeline_count(self, up_to_seq: int | None = None) -> int:
        seq = self.seq if up_to_seq is None else up_to_seq
        if seq <= 0:
            return 0
        return self.store.count_events_of_types(self.run_id, sorted(TIMELINE_TYPES), up_to_seq=seq)

    def gantt(self) -> GanttModel:
        coordination = self.store.events_of_types(
            self.run_id, [EventType.TASK_EVENT], up_to_seq=self.seq, limit=10_000
        ) if self.seq else []
        return gantt_from_view(self.view, self.now, coordination)
