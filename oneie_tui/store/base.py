"""The run store's interface, shared by its two engines (store/sqlite.py, store/postgres.py).

Everything outside store/ types a store as `Store` and a writer as `Writer`, and gets one
from `store.open.open_store`, so a command never knows which engine it talks to.
"""

from __future__ import annotations

import collections
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from oneie_tui.events import Event, EventType


class StoreError(Exception):
    """The store cannot be used (opened, written or found). The message is for the user."""


@dataclass
class RunRow:
    id: str
    spec_name: str
    spec_path: str | None
    spec_text: str
    started: float
    ended: float | None
    status: str
    summary: dict[str, Any]
    pid: int | None
    host: str | None
    damaged: str = ""  # what is wrong with the stored row, if anything: shown, never raised
    imported: bool = False


@dataclass
class RunListing:
    """One line of the history table (`Store.list_listings`)."""

    id: str
    spec_name: str
    started: float
    ended: float | None
    status: str
    agents: int | None
    wall_s: float | None
    speedup: float | None
    tokens: int | None
    cost_usd: float | None
    outcome: str = ""  # `completed (1 cancelled)`; the status for runs recorded before it


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is gone for our purposes.
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().split(") ", 1)[1][:1] != "Z"
    except (OSError, IndexError):
        return True


class Writer(Protocol):
    """The batching writer of a live run: `put` from the event loop never does I/O."""

    error: BaseException | None
    committed_seq: int
    cpu_seconds: float

    def put(self, event: Event) -> None: ...

    def close(self, timeout: float = 30.0) -> None: ...

    @property
    def busy(self) -> bool: ...


Conn = TypeVar("Conn")
IDLE_POLL = 0.002  # seconds a writer sleeps when nothing is queued


class BatchWriter(Generic[Conn]):
    """The thread every engine's writer runs: `put` never does I/O and never takes a lock
    (it appends to a deque), and the thread drains the deque a batch at a time. An engine
    says how to connect, how many rows a batch holds, what to do between batches (a
    heartbeat, a check that the store is still there) and how to commit one. A subclass
    sets its own fields before calling `__init__`, which starts the thread."""

    thread_name: ClassVar[str] = "oneie-store-writer"

    def __init__(self) -> None:
        self._queue: collections.deque[Event] = collections.deque()
        self._stopping = False
        self.error: BaseException | None = None
        self.committed_seq = 0
        self.cpu_seconds = 0.0
        self._thread = threading.Thread(target=self._loop, name=self.thread_name, daemon=True)
        self._thread.start()

    def put(self, event: Event) -> None:
        self._queue.append(event)

    def _connect(self) -> tuple[Conn, int]:
        """A connection of this thread's own, and the most rows one batch may hold."""
        raise NotImplementedError

    def _between(self, conn: Conn) -> None:
        """Work between batches (heartbeats, checks); may raise to stop the run."""

    def _commit(self, conn: Conn, batch: list[Event]) -> None:
        raise NotImplementedError

    def _failure(self, exc: BaseException) -> BaseException:
        """What the runner is told when the thread stopped on `exc`."""
        return exc

    def _disconnect(self, conn: Conn) -> None:
        raise NotImplementedError

    def _loop(self) -> None:
        conn: Conn | None = None
        queued = self._queue
        take = queued.popleft
        try:
            conn, most = self._connect()
            while True:
                self._between(conn)
                if not queued:
                    if self._stopping:  # set after the last put: look once more, then stop
                        if queued:
                            continue
                        return
                    # Polling beats a wake-up per event: put() stays a bare append.
                    time.sleep(IDLE_POLL)
                    continue
                batch = [take() for _ in range(min(len(queued), most))]
                self._commit(conn, batch)
                self.committed_seq = batch[-1].seq
        except BaseException as exc:  # reported to the runner, which stops the run
            self.error = self._failure(exc)
        finally:
            self.cpu_seconds = time.thread_time()  # what the writer cost (benchmarks)
            if conn is not None:
                self._disconnect(conn)

    def close(self, timeout: float = 30.0) -> None:
        """Flush everything queued and stop the thread."""
        self._stopping = True
        if self._thread.is_alive():
            self._thread.join(timeout)

    @property
    def busy(self) -> bool:
        """Still writing after `close` gave up waiting."""
        return self._thread.is_alive()


class Follower(Protocol):
    """Tells a reader (`oneie watch`) that a run may have new events."""

    def wait(self, timeout: float) -> bool:
        """Block up to `timeout` seconds; True when the run may have moved (read by seq)."""
        ...

    def close(self) -> None: ...


class Store(Protocol):
    """Runs, their events, the batching writer, listings, paging reads, import, delete."""

    @property
    def path(self) -> Path | str:
        """Where the store is, safe to show: a file path, or a URL without its password."""
        ...

    def close(self) -> None: ...

    def create_run(
        self, run_id: str, spec_name: str, spec_text: str, spec_path: str | None, started: float
    ) -> None: ...

    def mark_running(self, run_id: str) -> None: ...

    def finish_run(self, run_id: str, ended: float, status: str, summary: dict[str, Any]) -> None: ...

    def list_runs(self, limit: int | None = None, status: str | None = None) -> list[RunRow]: ...

    def get_run(self, ref: str) -> RunRow: ...

    def delete_run(self, run_id: str) -> None: ...

    def events(self, run_id: str, after_seq: int = 0, limit: int | None = None) -> Iterator[Event]: ...

    def last_seq(self, run_id: str) -> int: ...

    def agent_output(
        self, run_id: str, actor: str, up_to_seq: int, *, after_seq: int = 0, page: int = 20_000
    ) -> list[str]: ...

    def wait_committed(self, run_id: str, seq: int, timeout: float = 5.0) -> bool: ...

    def count_events(self, run_id: str) -> int: ...

    def insert_events(self, events: list[Event]) -> None: ...

    def writer(self) -> Writer: ...

    def list_listings(self, limit: int | None = None) -> list[RunListing]: ...

    def has_run(self, run_id: str) -> bool: ...

    def seq_bounds(self, run_id: str) -> tuple[int, int]: ...

    def event_at(self, run_id: str, seq: int) -> Event | None: ...

    def events_range(self, run_id: str, first: int, last: int) -> list[Event]: ...

    def seq_at_time(self, run_id: str, ts: float) -> int: ...

    def events_of_types(
        self, run_id: str, types: Iterable[str], *, up_to_seq: int, limit: int
    ) -> list[Event]: ...

    def count_events_of_types(self, run_id: str, types: Iterable[str], *, up_to_seq: int) -> int: ...

    def import_run(self, run: RunRow, events: Iterable[Event], source: str = "") -> int:
        """Add a run from a run file, marked as imported (never resumed into running)."""
        ...

    def is_imported(self, run_id: str) -> bool: ...

    def follow(self, run_id: str) -> Follower:
        """A follower for `oneie watch`: LISTEN/NOTIFY on PostgreSQL, polling on SQLite."""
        ...


def last_seq_at(ts: float, lo: int, hi: int, ts_of: Callable[[int], float]) -> int:
    """The last seq in `lo..hi` whose event happened at or before `ts` (0: none), by binary
    search over `ts_of(seq)` (the time of the first event at or after `seq`): the one
    search both engines run for a replay's seek."""
    if hi == 0 or ts_of(lo) > ts:
        return 0
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if ts_of(mid) <= ts:
            lo = mid
        else:
            hi = mid - 1
    return lo


def add_output(lines: list[str], kind: str, metadata: dict[str, Any]) -> None:
    """Fold one row of an agent's `agent_output` / `agent_queued` page into its lines: a
    queued new attempt (not a slot wait) starts a fresh output. Both engines' reader."""
    if kind == EventType.AGENT_QUEUED:
        if not metadata.get("slot"):
            lines.clear()
    else:
        lines.extend(str(metadata.get("text", "")).splitlines() or [""])


def wait_committed(last_seq: Callable[[], int], seq: int, timeout: float) -> bool:
    """Poll `last_seq()` until the writer has committed `seq` (False after `timeout`)."""
    deadline = time.monotonic() + timeout
    while last_seq() < seq:
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True
