"""The run store: SQLite in WAL mode, one batching writer thread per run, cheap readers.

Events go into a queue from the event loop (no I/O on the hot path); a writer thread
commits them in batches. Readers in this or other processes never block the writer (WAL).
A run left `running` whose process is gone reads back as `interrupted`.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import socket
import sqlite3
import stat
import threading
import time
import urllib.parse
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from oneie_tui.events import STREAM_TYPES, Event, encode_json
from oneie_tui.store.base import (
    BatchWriter,
    Follower,
    RunListing,
    RunRow,
    StoreError,
    _pid_alive,
    add_output,
    last_seq_at,
    wait_committed,
)
from oneie_tui.store.checks import RUN_STATUSES, loads, metadata_problem, summary_problem

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    spec_name TEXT NOT NULL,
    spec_path TEXT,
    spec_text TEXT NOT NULL,
    started REAL NOT NULL,
    ended REAL,
    status TEXT NOT NULL,
    summary TEXT,
    pid INTEGER,
    host TEXT
);
CREATE INDEX IF NOT EXISTS runs_started ON runs(started);
CREATE TABLE IF NOT EXISTS events (
    run_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    ts REAL NOT NULL,
    type TEXT NOT NULL,
    actor TEXT NOT NULL,
    target TEXT NOT NULL DEFAULT '',
    grp TEXT NOT NULL DEFAULT '',
    metadata TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
DROP INDEX IF EXISTS events_actor;
DROP INDEX IF EXISTS events_type;
CREATE INDEX IF NOT EXISTS events_actor_ctl ON events(run_id, actor, seq)
    WHERE type NOT IN ('agent_output', 'agent_progress');
CREATE INDEX IF NOT EXISTS events_type_ctl ON events(run_id, type, seq)
    WHERE type NOT IN ('agent_output', 'agent_progress');
CREATE TABLE IF NOT EXISTS imports (
    run_id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    imported REAL NOT NULL
) WITHOUT ROWID;
"""
# `imports`: runs brought in by `oneie import`. Their spec came from a file, not from
# the user's hand: they replay, but never resume into running its commands unasked.
# Output and progress are nearly every event of a run and are read by run+seq (the primary
# key), never looked up by type; leaving them out of the secondary indexes makes a batched
# insert about 1.6x cheaper. A query uses these partial indexes only when its WHERE repeats
# the condition literally, so queries by type or actor add `STREAM_EXCLUDED` for any other type.
STREAM_EXCLUDED = " AND type NOT IN ('agent_output', 'agent_progress')"

BATCH = 500

_escape = json.encoder.encode_basestring_ascii


def _encode(metadata: dict[str, Any]) -> str:
    """The metadata as compact JSON. An output line's `{"text", "stream"}` (nearly every
    event of a chatty run) is written directly: a third of the generic encoder's cost,
    and the writer's Python time is time the agents cannot have the GIL."""
    if len(metadata) == 2:
        text, stream = metadata.get("text"), metadata.get("stream")
        if text.__class__ is str and stream.__class__ is str:
            return '{"text":' + _escape(text) + ',"stream":' + _escape(stream) + "}"  # type: ignore[arg-type]
    return encode_json(metadata)


# The live writer takes up to this many queued events at once and writes them with one
# multi-row INSERT: one statement is its own transaction, and each statement gives up
# the GIL once, then waits for it back, up to a switch interval (5 ms) while agents keep
# it busy. Fewer, larger statements: about 1.3x the events/s of 500-row chunks in a
# BEGIN/COMMIT (benchmarks/bench_engine_events.py). x 8 parameters: under SQLite's 32766.
MAX_ROWS = 4000


def chunk_sizes(rows: int, most: int) -> list[int]:
    """Statement sizes for `rows` rows: `most` while it fits, then powers of two, so a few
    prepared statements (cached) serve every batch, however many rows were queued."""
    sizes = [most] * (rows // most)
    rest = rows % most
    while rest:
        size = 1 << (rest.bit_length() - 1)
        sizes.append(size)
        rest -= size
    return sizes


@functools.lru_cache(maxsize=16)
def _insert_rows_sql(rows: int) -> str:
    return "INSERT INTO events VALUES " + ",".join(["(?, ?, ?, ?, ?, ?, ?, ?)"] * rows)


def _shown_status(status: str, pid: int | None, host: str | None, here: str, alive: dict[int, bool]) -> str:
    """A run left `running` by a process of this host that is gone reads `interrupted`.
    `alive` caches the answer per pid across the rows of one listing."""
    if status == "running" and pid is not None and host == here:
        if pid not in alive:
            alive[pid] = _pid_alive(pid)
        if not alive[pid]:
            return "interrupted"
    return status


def _make_folders(folder: Path) -> None:
    """Create the missing folders of `folder`, each 0700, and tighten only those (a umask
    could leave them looser). A folder that exists is never changed: it may be `/tmp`."""
    missing: list[Path] = []
    probe = folder
    while not os.path.lexists(probe):
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    for created in reversed(missing):
        try:
            os.mkdir(created, 0o700)
        except FileExistsError:  # made by someone else meanwhile: theirs, left alone
            continue
        os.chmod(created, 0o700, follow_symlinks=False)


def _check_store_file(path: Path) -> os.stat_result | None:
    """The store path's own status, without following a symlink; None when it is missing.
    Anything but a regular file (a symlink, a device, a FIFO, a folder) is refused before
    anything is opened or changed."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    mode = st.st_mode
    if stat.S_ISLNK(mode):
        raise StoreError(f"the run store {path} is a symlink; give the real path")
    if not stat.S_ISREG(mode):
        kind = (
            "a folder" if stat.S_ISDIR(mode)
            else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else "a FIFO" if stat.S_ISFIFO(mode)
            else "a socket" if stat.S_ISSOCK(mode)
            else "not a regular file"
        )
        raise StoreError(f"the run store {path} is {kind}, not a store file")
    return st


def _create_store_file(path: Path) -> os.stat_result:
    """A new, empty store file, 0600 whatever the umask. O_EXCL|O_NOFOLLOW: never an
    existing file, never through a symlink someone put there after the check."""
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        return os.fstat(fd)
    finally:
        os.close(fd)


def _read_only_media(folder: Path) -> bool:
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def connect(path: Path, *, read_only: bool = False, immutable: bool = False) -> sqlite3.Connection:
    if read_only:
        # immutable: no -shm, no locks, nothing written; the only way to read a WAL
        # database on media that cannot be written (nobody can be writing it there).
        uri = "file:" + urllib.parse.quote(str(path.absolute())) + "?mode=ro" + ("&immutable=1" if immutable else "")
        conn = sqlite3.connect(uri, uri=True, timeout=30.0, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA query_only=1")
        return conn
    conn = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


def store_identity(st: os.stat_result) -> tuple[int, int]:
    return (st.st_dev, st.st_ino)


class RunStore:
    """The run store. It owns only what it creates: a missing folder (0700) and the store's
    files (0600); an existing folder or file keeps its mode. On read-only media it opens
    read-only, so listing, showing and exporting still work."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.read_only = False
        try:
            folder = self.path.parent
            st = _check_store_file(self.path)
            if st is None and folder.is_dir() and _read_only_media(folder):
                raise StoreError(f"no run store at {self.path}, and its folder is on read-only media")
            if st is None:
                _make_folders(folder)
                st = _create_store_file(self.path)
            media_ro = _read_only_media(folder)
            self.read_only = media_ro or not os.access(self.path, os.W_OK)
            # Someone else's store on writable media may be written meanwhile: plain
            # read-only then, so SQLite still sees their commits.
            self._conn = connect(self.path, read_only=self.read_only, immutable=media_ro)
            if not self.read_only:
                self._conn.executescript(SCHEMA)
            else:
                self._conn.execute("SELECT 1 FROM runs LIMIT 1").fetchall()
            # What was checked is what SQLite opened: not swapped for a symlink meanwhile.
            now = _check_store_file(self.path)
            if now is None or store_identity(now) != store_identity(st):
                raise StoreError(f"the run store {self.path} changed while it was being opened")
            self.identity = store_identity(st)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open the run store at {self.path}: {exc}") from None
        self._lock = threading.Lock()

    def _writable(self) -> None:
        if self.read_only:
            raise StoreError(f"the run store {self.path} is read-only here: only reading commands work")

    def close(self) -> None:
        # Under the lock: a reader in another thread (a watch's follower) may be inside a
        # query, and closing a connection mid-query can crash the interpreter.
        with self._lock, contextlib.suppress(sqlite3.Error):
            self._conn.close()

    # --- runs -----------------------------------------------------------------

    def create_run(
        self, run_id: str, spec_name: str, spec_text: str, spec_path: str | None, started: float
    ) -> None:
        self._writable()
        with self._lock:
            self._conn.execute(
                "INSERT INTO runs (id, spec_name, spec_path, spec_text, started, status, pid, host)"
                " VALUES (?, ?, ?, ?, ?, 'running', ?, ?)",
                (run_id, spec_name, spec_path, spec_text, started, os.getpid(), socket.gethostname()),
            )

    def mark_running(self, run_id: str) -> None:
        """A resumed run belongs to this process now."""
        self._writable()
        with self._lock:
            self._conn.execute(
                "UPDATE runs SET status='running', ended=NULL, pid=?, host=? WHERE id=?",
                (os.getpid(), socket.gethostname(), run_id),
            )

    def finish_run(self, run_id: str, ended: float, status: str, summary: dict[str, Any]) -> None:
        self._writable()
        with self._lock:
            self._conn.execute(
                "UPDATE runs SET ended=?, status=?, summary=? WHERE id=?",
                (ended, status, json.dumps(summary, default=str), run_id),
            )

    def _row(self, r: tuple[Any, ...], here: str | None = None, alive: dict[int, bool] | None = None,
             imported: bool = False) -> RunRow:
        """A stored row as a RunRow. A value of the wrong type or out of range (a damaged
        file, an old import) gives a row marked `damaged` with safe stand-ins, never an
        exception: `runs`, `history` and `show` must list it so it can be deleted."""
        problems: list[str] = []
        summary, problem = _decode_summary(r[7])
        if problem:
            problems.append(problem)
        started = r[4] if _finite(r[4]) else 0.0
        if started is not r[4]:
            problems.append("started: not a number")
        ended = r[5] if r[5] is None or _finite(r[5]) else None
        if ended is not r[5]:
            problems.append("ended: not a number")
        pid = r[8] if isinstance(r[8], int) else None
        host = r[9] if isinstance(r[9], str) else None
        status = r[6] if isinstance(r[6], str) and r[6] in RUN_STATUSES else "damaged"
        if status == "damaged":
            problems.append("status: not a run status")
        elif problems:
            status = "damaged"
        else:
            status = _shown_status(status, pid, host, here or socket.gethostname(), {} if alive is None else alive)
        return RunRow(
            id=str(r[0]),
            spec_name=r[1] if isinstance(r[1], str) else "?",
            spec_path=r[2] if isinstance(r[2], str) else None,
            spec_text=r[3] if isinstance(r[3], str) else "",
            started=float(started),
            ended=None if ended is None else float(ended),
            status=status,
            summary=summary,
            pid=pid,
            host=host,
            damaged="; ".join(problems),
            imported=imported,
        )

    def _imported_ids(self, ids: Iterable[str] | None = None) -> set[str]:
        """Ids of imported runs (all, or among `ids`). An old store opened read-only may
        have no `imports` table yet: then nothing was imported into it by this version."""
        try:
            if ids is None:
                return {r[0] for r in self._conn.execute("SELECT run_id FROM imports")}
            return {r[0] for i in ids for r in self._conn.execute("SELECT run_id FROM imports WHERE run_id=?", (i,))}
        except sqlite3.OperationalError:
            return set()

    def is_imported(self, run_id: str) -> bool:
        with self._lock:
            return bool(self._imported_ids([run_id]))

    _COLS = "id, spec_name, spec_path, spec_text, started, ended, status, summary, pid, host"

    # Listings never read spec_text: an imported spec could be huge, and no listing shows it.
    _LIST_COLS = "id, spec_name, spec_path, '', started, ended, status, summary, pid, host"

    def list_runs(self, limit: int | None = None, status: str | None = None) -> list[RunRow]:
        """Runs newest first, their `spec_text` left empty (`get_run` has it)."""
        sql = f"SELECT {self._LIST_COLS} FROM runs ORDER BY started DESC, id DESC"
        if limit is not None and status is None:
            sql += f" LIMIT {int(limit)}"
        here, alive = socket.gethostname(), dict[int, bool]()
        with self._lock:
            imported = self._imported_ids()
            rows = [self._row(r, here, alive, r[0] in imported) for r in self._conn.execute(sql)]
        if status is not None:
            rows = [r for r in rows if r.status == status][: limit or None]
        return rows

    def get_run(self, ref: str) -> RunRow:
        """A run by id, unique id prefix, or `last`."""
        with self._lock:
            if ref in ("last", "latest"):
                found = self._conn.execute(
                    f"SELECT {self._COLS} FROM runs ORDER BY started DESC, id DESC LIMIT 1"
                ).fetchall()
            else:
                found = self._conn.execute(
                    f"SELECT {self._COLS} FROM runs WHERE id = ?", (ref,)
                ).fetchall() or self._conn.execute(
                    f"SELECT {self._COLS} FROM runs WHERE id LIKE ? ESCAPE '\\' LIMIT 2",
                    (ref.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%",),
                ).fetchall()
        if not found:
            raise StoreError(f"no run {ref!r} in {self.path}")
        if len(found) > 1:
            raise StoreError(f"run id {ref!r} is ambiguous; give more characters")
        with self._lock:
            imported = bool(self._imported_ids([str(found[0][0])]))
        return self._row(found[0], imported=imported)

    def delete_run(self, run_id: str) -> None:
        self._writable()
        with self._lock:
            self._conn.execute("BEGIN")
            self._conn.execute("DELETE FROM events WHERE run_id=?", (run_id,))
            self._conn.execute("DELETE FROM runs WHERE id=?", (run_id,))
            self._conn.execute("DELETE FROM imports WHERE run_id=?", (run_id,))
            self._conn.execute("COMMIT")

    # --- events ---------------------------------------------------------------

    def events(
        self, run_id: str, after_seq: int = 0, limit: int | None = None
    ) -> Iterator[Event]:
        sql = (
            "SELECT seq, ts, type, actor, target, grp, metadata FROM events"
            " WHERE run_id=? AND seq>? ORDER BY seq"
        )
        args: tuple[Any, ...] = (run_id, after_seq)
        if limit is not None:
            sql += " LIMIT ?"
            args = (*args, limit)
        with self._lock:
            rows = self._conn.execute(sql, args).fetchall()
        for row in rows:
            yield _event_of(run_id, row)

    def last_seq(self, run_id: str) -> int:
        with self._lock:
            (value,) = self._conn.execute(
                "SELECT COALESCE(MAX(seq), 0) FROM events WHERE run_id=?", (run_id,)
            ).fetchone()
        return int(value)

    def agent_output(
        self, run_id: str, actor: str, up_to_seq: int, *, after_seq: int = 0, page: int = 20_000
    ) -> list[str]:
        """The output lines of `actor`'s latest attempt with `after_seq` < seq <= `up_to_seq`:
        what the zoom shows beyond the capped scrollback. Output has no actor index (it
        keeps inserts cheap), so the run is read in pages by primary key, the lock
        released between."""
        lines: list[str] = []
        after = after_seq
        while after < up_to_seq:
            with self._lock:
                rows = self._conn.execute(
                    "SELECT seq, type, metadata FROM events WHERE run_id=? AND seq>? AND seq<=?"
                    " AND actor=? AND type IN ('agent_output', 'agent_queued') ORDER BY seq LIMIT ?",
                    (run_id, after, up_to_seq, actor, page),
                ).fetchall()
            if not rows:
                break
            for _, kind, meta in rows:
                add_output(lines, kind, _decode_metadata(meta))
            after = rows[-1][0]
        return lines

    def wait_committed(self, run_id: str, seq: int, timeout: float = 5.0) -> bool:
        """Wait (in a worker thread) until the writer has committed `seq`."""
        return wait_committed(lambda: self.last_seq(run_id), seq, timeout)

    def count_events(self, run_id: str) -> int:
        with self._lock:
            (value,) = self._conn.execute(
                "SELECT COUNT(*) FROM events WHERE run_id=?", (run_id,)
            ).fetchone()
        return int(value)

    def insert_events(self, events: list[Event]) -> None:
        """Synchronous bulk insert (import, tests). Live runs use `EventWriter`."""
        self._writable()
        with self._lock:
            self._conn.execute("BEGIN")
            self._conn.executemany(
                "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [_row_of(e) for e in events]
            )
            self._conn.execute("COMMIT")

    def writer(self) -> EventWriter:
        self._writable()
        return EventWriter(self.path, self.identity)

    def follow(self, run_id: str) -> Follower:
        return PollingFollower(self, run_id)

    # --- history and replay readers: page through a run, never load all of it ----------

    def list_listings(self, limit: int | None = None) -> list[RunListing]:
        """Runs for the history table, newest first, without spec text or per-agent detail.
        SQLite pulls the few summary fields in one pass over each summary (a JSON array),
        so 10,000 runs list in a fraction of a second."""
        paths = ", ".join(
            f"'$.{k}'"
            for k in ("wall_s", "speedup", "input_tokens", "output_tokens",
                      "cache_write_tokens", "cache_read_tokens", "cost_usd", "outcome")
        )
        fast = (
            "SELECT id, spec_name, started, ended, status, pid, host,"
            f" json_array_length(summary, '$.agents'), json_extract(summary, {paths})"
            " FROM runs ORDER BY started DESC, id DESC"
        )
        # Summaries are written by json.dumps; a damaged one only costs a slower query.
        safe = (
            "SELECT id, spec_name, started, ended, status, pid, host,"
            " CASE WHEN json_valid(summary) THEN json_array_length(summary, '$.agents') END,"
            f" CASE WHEN json_valid(summary) THEN json_extract(summary, {paths}) END"
            " FROM runs ORDER BY started DESC, id DESC"
        )
        tail = f" LIMIT {int(limit)}" if limit is not None else ""
        with self._lock:
            try:
                rows = self._conn.execute(fast + tail).fetchall()
            except sqlite3.OperationalError:
                rows = self._conn.execute(safe + tail).fetchall()
        here = socket.gethostname()
        alive: dict[int, bool] = {}
        out: list[RunListing] = []
        for r in rows:
            out.append(_listing_of(r, here, alive))
        return out

    def has_run(self, run_id: str) -> bool:
        with self._lock:
            return self._conn.execute("SELECT 1 FROM runs WHERE id=?", (run_id,)).fetchone() is not None

    def seq_bounds(self, run_id: str) -> tuple[int, int]:
        """(first seq, last seq) of a run's events; (0, 0) when it has none."""
        with self._lock:
            (lo,) = self._conn.execute("SELECT MIN(seq) FROM events WHERE run_id=?", (run_id,)).fetchone()
            (hi,) = self._conn.execute("SELECT MAX(seq) FROM events WHERE run_id=?", (run_id,)).fetchone()
        return (int(lo or 0), int(hi or 0))

    def event_at(self, run_id: str, seq: int) -> Event | None:
        found = self.events_range(run_id, seq, seq)
        return found[0] if found else None

    def events_range(self, run_id: str, first: int, last: int) -> list[Event]:
        """Events with first <= seq <= last, in seq order (one page of a large run)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT seq, ts, type, actor, target, grp, metadata FROM events"
                " WHERE run_id=? AND seq BETWEEN ? AND ? ORDER BY seq",
                (run_id, first, last),
            ).fetchall()
        return [_event_of(run_id, row) for row in rows]

    def seq_at_time(self, run_id: str, ts: float) -> int:
        """The last seq whose event happened at or before `ts` (0 if none). A binary search
        over the primary key: a run's clock never goes backwards, so ts rises with seq."""
        lo, hi = self.seq_bounds(run_id)
        if hi == 0:
            return 0
        with self._lock:
            def ts_of(seq: int) -> float:
                row = self._conn.execute(
                    "SELECT ts FROM events WHERE run_id=? AND seq>=? ORDER BY seq LIMIT 1",
                    (run_id, seq),
                ).fetchone()
                return float(row[0]) if row else float("inf")

            return last_seq_at(ts, lo, hi, ts_of)

    def events_of_types(
        self, run_id: str, types: Iterable[str], *, up_to_seq: int, limit: int
    ) -> list[Event]:
        """The last `limit` events of these types with seq <= `up_to_seq`, oldest first: a
        timeline page. One indexed query per type, so it stays fast in a run of millions."""
        rows: list[tuple[Any, ...]] = []
        with self._lock:
            for kind in types:
                rows += self._conn.execute(
                    "SELECT seq, ts, type, actor, target, grp, metadata FROM events"
                    " WHERE run_id=? AND type=? AND seq<=?"
                    + ("" if kind in STREAM_TYPES else STREAM_EXCLUDED)
                    + " ORDER BY seq DESC LIMIT ?",
                    (run_id, kind, up_to_seq, limit),
                ).fetchall()
        rows.sort(key=lambda r: r[0])
        rows = rows[-limit:] if limit > 0 else []
        return [_event_of(run_id, row) for row in rows]

    def count_events_of_types(self, run_id: str, types: Iterable[str], *, up_to_seq: int) -> int:
        with self._lock:
            return sum(
                int(self._conn.execute(
                    "SELECT COUNT(*) FROM events WHERE run_id=? AND type=? AND seq<=?"
                    + ("" if kind in STREAM_TYPES else STREAM_EXCLUDED),
                    (run_id, kind, up_to_seq),
                ).fetchone()[0])
                for kind in types
            )

    def import_run(self, run: RunRow, events: Iterable[Event], source: str = "") -> int:
        """Add a recorded run and its events in one transaction (`oneie import`), marked
        as imported from `source`. Returns the number of events. Refuses a run id the
        store already holds."""
        self._writable()
        count = 0
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                if self._conn.execute("SELECT 1 FROM runs WHERE id=?", (run.id,)).fetchone():
                    raise StoreError(f"run {run.id} is already in {self.path}")
                self._conn.execute(
                    "INSERT INTO runs (id, spec_name, spec_path, spec_text, started, ended, status,"
                    " summary, pid, host) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)",
                    (run.id, run.spec_name, run.spec_path, run.spec_text, run.started, run.ended,
                     run.status, json.dumps(run.summary, default=str) if run.summary else None),
                )
                self._conn.execute(
                    "INSERT INTO imports (run_id, source, imported) VALUES (?, ?, ?)",
                    (run.id, source or "?", time.time()),
                )
                batch: list[tuple[Any, ...]] = []
                for e in events:
                    batch.append(_row_of(e))
                    count += 1
                    if len(batch) >= BATCH * 10:
                        self._conn.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?)", batch)
                        batch.clear()
                if batch:
                    self._conn.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?)", batch)
                self._conn.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
                raise
        return count


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _decode_summary(text: Any) -> tuple[dict[str, Any], str]:
    """(summary, problem). A summary that is not JSON, not an object, or holds values of
    the wrong type reads as {} with the problem named."""
    if text is None or text == "":
        return {}, ""
    try:
        value = loads(text)
    except (ValueError, TypeError):
        return {}, "summary: not JSON"
    problem = summary_problem(value)
    if problem:
        return {}, problem
    return value, ""


def _decode_metadata(text: Any) -> dict[str, Any]:
    """An event's metadata; a damaged one (not JSON, not an object, odd values) reads as
    `{"damaged": ...}` so every view folds it as an event with nothing to say."""
    try:
        value = loads(text)
    except (ValueError, TypeError):
        return {"damaged": "metadata is not JSON"}
    if value.__class__ is dict and len(value) == 2 and value.get("text").__class__ is str \
            and value.get("stream").__class__ is str:
        return value  # an output line: nearly every event, and nothing in it to check
    problem = metadata_problem(value)
    return {"damaged": problem} if problem else value


def _event_of(run_id: str, row: tuple[Any, ...]) -> Event:
    seq, ts, kind, actor, target, grp, meta = row
    md = _decode_metadata(meta)
    if not _finite(ts):
        ts, md = 0.0, {"damaged": "ts: not a number"}
    return Event(int(seq), run_id, float(ts), str(kind), str(actor), str(target), str(grp), md)


def _listing_of(r: tuple[Any, ...], here: str, alive: dict[int, bool]) -> RunListing:
    """One history line from `list_listings`' query, damaged values shown as damaged."""
    damaged = not isinstance(r[4], str) or r[4] not in RUN_STATUSES or not _finite(r[2])
    damaged = damaged or not (r[3] is None or _finite(r[3]))
    wall = speedup = cost = outcome = None
    tokens: int | None = None
    if r[8] and not damaged:
        try:
            values = loads(r[8])
            wall, speedup, t_in, t_out, t_cw, t_cr, cost, outcome = values
        except (ValueError, TypeError):
            values, damaged = None, True
        fields = (wall, speedup, t_in, t_out, t_cw, t_cr, cost) if values is not None else ()
        if any(v is not None and not _finite(v) for v in fields):
            damaged = True
        elif wall is not None:
            tokens = sum(int(v or 0) for v in (t_in, t_out, t_cw, t_cr))
    if damaged:
        wall = speedup = cost = None
        tokens = None
    status = "damaged" if damaged else _shown_status(r[4], r[5], r[6], here, alive)
    return RunListing(
        id=str(r[0]),
        spec_name=r[1] if isinstance(r[1], str) else "?",
        started=float(r[2]) if _finite(r[2]) else 0.0,
        ended=float(r[3]) if _finite(r[3]) else None,
        status=status,
        # what happened, in words; a run shown as interrupted or damaged keeps that word
        outcome=str(outcome) if isinstance(outcome, str) and outcome and status == r[4] else status,
        agents=r[7] if isinstance(r[7], int) and not damaged else None,
        wall_s=wall,
        speedup=speedup,
        tokens=tokens,
        cost_usd=cost,
    )


def _row_of(e: Event) -> tuple[Any, ...]:
    return (
        e.run_id,
        e.seq,
        e.ts,
        e.type,
        e.actor,
        e.target,
        e.group,
        _encode(e.metadata),
    )



class EventWriter(BatchWriter[sqlite3.Connection]):
    """One thread that commits queued events in batches (`BatchWriter`), and stops the run
    when the store file is deleted under it."""

    CHECK_EVERY = 0.5  # seconds between checks that the store file is still there

    def __init__(self, path: Path, identity: tuple[int, int] | None = None) -> None:
        self._path = path
        self._identity = identity
        self._checked = time.monotonic()
        self._most = MAX_ROWS  # rows per statement, set from the connection's limit
        super().__init__()

    def _connect(self) -> tuple[sqlite3.Connection, int]:
        conn = connect(self._path)
        self._most = min(MAX_ROWS, conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // 8)
        return conn, self._most

    def _between(self, conn: sqlite3.Connection) -> None:
        if self._identity is not None and time.monotonic() - self._checked >= self.CHECK_EVERY:
            self._check_still_there()

    def _disconnect(self, conn: sqlite3.Connection) -> None:
        with contextlib.suppress(sqlite3.Error):
            conn.close()

    def _check_still_there(self) -> None:
        """Writes into a deleted store land in an inode nobody can open again: the run
        would be lost without a word. So a store file gone (or replaced) stops the run."""
        self._checked = time.monotonic()
        try:
            st = os.stat(self._path)
        except FileNotFoundError:
            st = None
        if st is None or store_identity(st) != self._identity:
            raise StoreError(
                f"the run store {self._path} was deleted during the run; stopping, since nothing more can be recorded"
            )

    def _commit(self, conn: sqlite3.Connection, batch: list[Event]) -> None:
        sizes = chunk_sizes(len(batch), self._most)
        alone = len(sizes) == 1  # one statement: a transaction by itself
        if not alone:
            conn.execute("BEGIN")
        try:
            start = 0
            for size in sizes:
                params: list[Any] = []
                add = params.extend
                for e in batch[start : start + size]:
                    add((e.run_id, e.seq, e.ts, e.type, e.actor, e.target, e.group, _encode(e.metadata)))
                conn.execute(_insert_rows_sql(size), params)
                start += size
            if not alone:
                conn.execute("COMMIT")
        except BaseException:
            if not alone:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            raise


class PollingFollower:
    """SQLite has no notifications: a watcher polls the run's last seq."""

    POLL = 0.05  # seconds; the writer commits every few milliseconds under load

    def __init__(self, store: RunStore, run_id: str) -> None:
        self._store = store
        self._run_id = run_id
        self._seen = -1

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            seq = self._store.last_seq(self._run_id)
            if seq != self._seen:
                self._seen = seq
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(self.POLL, left))

    def close(self) -> None:
        return None
