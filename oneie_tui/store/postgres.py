"""The run store on PostgreSQL (psycopg 3): a team's shared run history.

Readers share a connection pool (psycopg_pool); the batching writer of a live run holds a
connection of its own for the run's lifetime and writes each batch with one `COPY`, then
`pg_notify('oneie_events', '<run id> <last seq>')` in the same transaction: watchers are
told ids, never payloads, and read the events by seq. The writer also beats a heartbeat
on the run row, so a run whose machine went away reads `interrupted` from anywhere.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
import weakref
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import psycopg
import psycopg_pool

from oneie_tui.events import STREAM_TYPES, Event
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
from oneie_tui.store.sqlite import MAX_ROWS, STREAM_EXCLUDED, _encode
from oneie_tui.trust.store_url import safe_url, scrub

CHANNEL = "oneie_events"
HEARTBEAT = 5.0  # seconds between the writer's beats on its runs
STALE = 30  # seconds without a beat after which a `running` run reads `interrupted`

# Each entry moves the schema one version up; the version table says how far a database
# is. Never edit an entry once released: add the next one.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE runs (
        id text PRIMARY KEY,
        spec_name text NOT NULL,
        spec_path text,
        spec_text text NOT NULL,
        started double precision NOT NULL,
        ended double precision,
        status text NOT NULL,
        summary jsonb,
        pid integer,
        host text,
        heartbeat timestamptz
    );
    CREATE INDEX runs_started ON runs (started DESC, id DESC);
    CREATE TABLE events (
        run_id text NOT NULL,
        seq bigint NOT NULL,
        ts double precision NOT NULL,
        type text NOT NULL,
        actor text NOT NULL,
        target text NOT NULL DEFAULT '',
        grp text NOT NULL DEFAULT '',
        metadata text NOT NULL DEFAULT '{}',
        PRIMARY KEY (run_id, seq)
    );
    CREATE INDEX events_actor_ctl ON events (run_id, actor, seq)
        WHERE type NOT IN ('agent_output', 'agent_progress');
    CREATE INDEX events_type_ctl ON events (run_id, type, seq)
        WHERE type NOT IN ('agent_output', 'agent_progress');
    """,
    # 2: runs that came from a run file: data, never resumed into running their commands
    """
    CREATE TABLE imports (
        run_id text PRIMARY KEY,
        source text NOT NULL,
        imported double precision NOT NULL
    );
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)

_COLS = "id, spec_name, spec_path, spec_text, started, ended, status, summary, pid, host"
_STALE_SQL = f"(heartbeat IS NOT NULL AND heartbeat < now() - interval '{STALE} seconds')"
_EVENT_COLS = "seq, ts, type, actor, target, grp, metadata"
_COPY_EVENTS = "COPY events (run_id, seq, ts, type, actor, target, grp, metadata) FROM STDIN"


def shown_status(
    status: str, pid: int | None, host: str | None, stale: bool, here: str, alive: dict[int, bool]
) -> str:
    """A `running` run reads `interrupted` when its heartbeat stopped (any host), or when
    its process on this host is gone (at once, without waiting for the beat to age)."""
    if status != "running":
        return status
    if stale:
        return "interrupted"
    if pid is not None and host == here:
        if pid not in alive:
            alive[pid] = _pid_alive(pid)
        if not alive[pid]:
            return "interrupted"
    return status


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


def _error(url: str, doing: str, exc: BaseException) -> StoreError:
    return StoreError(scrub(f"{doing} {safe_url(url)}: {_first_line(exc)}", url))


def connect(url: str, **kwargs: Any) -> psycopg.Connection[Any]:
    return psycopg.connect(url, autocommit=True, connect_timeout=10, application_name="oneie", **kwargs)


def migrate(conn: psycopg.Connection[Any]) -> int:
    """Bring the schema to SCHEMA_VERSION; several oneie processes may start at once, so
    the work is serialised by an advisory lock. Returns the version found before."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('oneie_schema'))")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS oneie_schema_version ("
            " version integer PRIMARY KEY, applied timestamptz NOT NULL DEFAULT now())"
        )
        row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM oneie_schema_version").fetchone()
        found = int(row[0]) if row else 0
        if found > SCHEMA_VERSION:
            raise StoreError(
                f"the store's schema is version {found}; this oneie knows up to {SCHEMA_VERSION}:"
                " upgrade oneie"
            )
        for version in range(found + 1, SCHEMA_VERSION + 1):
            conn.execute(MIGRATIONS[version - 1])
            conn.execute("INSERT INTO oneie_schema_version (version) VALUES (%s)", (version,))
    return found


def _close_pool(pool: psycopg_pool.ConnectionPool[Any]) -> None:
    with contextlib.suppress(Exception):
        pool.close()


def _event(run_id: str, r: Sequence[Any]) -> Event:
    return Event(r[0], run_id, r[1], r[2], r[3], r[4], r[5], json.loads(r[6]))


def _copy_events(cur: psycopg.Cursor[Any], events: Iterable[Event]) -> int:
    count = 0
    with cur.copy(_COPY_EVENTS) as copy:
        write = copy.write_row
        for e in events:
            write((e.run_id, e.seq, e.ts, str(e.type), e.actor, e.target, e.group, _encode(e.metadata)))
            count += 1
    return count


def _notify(cur: psycopg.Cursor[Any], events: Iterable[Event]) -> set[str]:
    """Tell watchers, at commit, the last seq of each run written: ids, never payloads."""
    last: dict[str, int] = {}
    for e in events:
        last[e.run_id] = e.seq
    for run_id, seq in last.items():
        cur.execute("SELECT pg_notify(%s, %s)", (CHANNEL, f"{run_id} {seq}"))
    return set(last)


class PostgresStore:
    def __init__(self, url: str, *, pool_size: int = 4) -> None:
        self._url = url
        self.path = safe_url(url)
        try:
            with connect(url) as conn:
                migrate(conn)
            self._pool = psycopg_pool.ConnectionPool(
                url,
                min_size=1,
                max_size=pool_size,
                kwargs={"autocommit": True, "connect_timeout": 10, "application_name": "oneie"},
                open=True,
                name="oneie",
            )
        except psycopg.Error as exc:
            raise _error(url, "cannot open the run store at", exc) from None
        self._here = socket.gethostname()
        # A store dropped without close() closes its pool on the thread that drops it:
        # left to the pool's own __del__, a pool worker may be the one to join itself.
        self._closer = weakref.finalize(self, _close_pool, self._pool)

    def close(self) -> None:
        self._closer()

    @contextlib.contextmanager
    def _conn(self) -> Iterator[psycopg.Connection[Any]]:
        try:
            with self._pool.connection() as conn:
                yield conn
        except psycopg.Error as exc:
            raise _error(self._url, "run store error at", exc) from None
        except psycopg_pool.PoolTimeout as exc:
            raise _error(self._url, "run store unreachable at", exc) from None

    # --- runs -----------------------------------------------------------------

    def create_run(
        self, run_id: str, spec_name: str, spec_text: str, spec_path: str | None, started: float
    ) -> None:
        with self._conn() as conn:
            try:
                conn.execute(
                    "INSERT INTO runs (id, spec_name, spec_path, spec_text, started, status, pid, host,"
                    " heartbeat) VALUES (%s, %s, %s, %s, %s, 'running', %s, %s, now())",
                    (run_id, spec_name, spec_path, spec_text, started, os.getpid(), self._here),
                )
            except psycopg.errors.UniqueViolation:
                raise StoreError(f"run id {run_id} is already in {self.path}") from None

    def mark_running(self, run_id: str) -> None:
        """A resumed run belongs to this process now, unless it is live elsewhere: two
        writers on one run would collide on its seq."""
        with self._conn() as conn, conn.transaction():
            row = conn.execute(
                f"SELECT status, pid, host, {_STALE_SQL} FROM runs WHERE id=%s FOR UPDATE", (run_id,)
            ).fetchone()
            if row is None:
                raise StoreError(f"no run {run_id!r} in {self.path}")
            status, pid, host, stale = row
            mine = pid == os.getpid() and host == self._here
            if not mine and shown_status(status, pid, host, stale, self._here, {}) == "running":
                raise StoreError(f"run {run_id} is live on {host} (pid {pid}); watch it instead")
            conn.execute(
                "UPDATE runs SET status='running', ended=NULL, pid=%s, host=%s, heartbeat=now()"
                " WHERE id=%s",
                (os.getpid(), self._here, run_id),
            )

    def finish_run(self, run_id: str, ended: float, status: str, summary: dict[str, Any]) -> None:
        with self._conn() as conn:
            conn.execute(
                "UPDATE runs SET ended=%s, status=%s, summary=%s::jsonb WHERE id=%s",
                (ended, status, json.dumps(summary, default=str), run_id),
            )

    def _row(self, r: Sequence[Any], alive: dict[int, bool]) -> RunRow:
        return RunRow(
            id=r[0],
            spec_name=r[1],
            spec_path=r[2],
            spec_text=r[3],
            started=r[4],
            ended=r[5],
            status=shown_status(r[6], r[8], r[9], bool(r[10]), self._here, alive),
            summary=r[7] if isinstance(r[7], dict) else {},
            pid=r[8],
            host=r[9],
        )

    def list_runs(self, limit: int | None = None, status: str | None = None) -> list[RunRow]:
        sql = f"SELECT {_COLS}, {_STALE_SQL} FROM runs ORDER BY started DESC, id DESC"
        if limit is not None and status is None:
            sql += f" LIMIT {int(limit)}"
        alive: dict[int, bool] = {}
        with self._conn() as conn:
            rows = [self._row(r, alive) for r in conn.execute(sql).fetchall()]
            imported = {r[0] for r in conn.execute("SELECT run_id FROM imports").fetchall()}
        for row in rows:
            row.imported = row.id in imported
        if status is not None:
            rows = [r for r in rows if r.status == status][: limit or None]
        return rows

    def get_run(self, ref: str) -> RunRow:
        """A run by id, unique id prefix, or `last`."""
        head = f"SELECT {_COLS}, {_STALE_SQL} FROM runs"
        with self._conn() as conn:
            if ref in ("last", "latest"):
                found = conn.execute(f"{head} ORDER BY started DESC, id DESC LIMIT 1").fetchall()
            else:
                found = conn.execute(f"{head} WHERE id = %s", (ref,)).fetchall() or conn.execute(
                    f"{head} WHERE id LIKE %s ESCAPE '\\' ORDER BY id LIMIT 2",
                    (ref.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%",),
                ).fetchall()
        if not found:
            raise StoreError(f"no run {ref!r} in {self.path}")
        if len(found) > 1:
            raise StoreError(f"run id {ref!r} is ambiguous; give more characters")
        row = self._row(found[0], {})
        row.imported = self.is_imported(row.id)
        return row

    def is_imported(self, run_id: str) -> bool:
        with self._conn() as conn:
            return conn.execute("SELECT 1 FROM imports WHERE run_id=%s", (run_id,)).fetchone() is not None

    def delete_run(self, run_id: str) -> None:
        with self._conn() as conn, conn.transaction():
            conn.execute("DELETE FROM events WHERE run_id=%s", (run_id,))
            conn.execute("DELETE FROM imports WHERE run_id=%s", (run_id,))
            conn.execute("DELETE FROM runs WHERE id=%s", (run_id,))

    def has_run(self, run_id: str) -> bool:
        with self._conn() as conn:
            return conn.execute("SELECT 1 FROM runs WHERE id=%s", (run_id,)).fetchone() is not None

    def list_listings(self, limit: int | None = None) -> list[RunListing]:
        """Runs for the history table, newest first, without spec text or per-agent detail:
        the few summary fields are picked out by the server."""
        fields = ", ".join(
            f"summary->'{k}'"
            for k in ("wall_s", "speedup", "input_tokens", "output_tokens",
                      "cache_write_tokens", "cache_read_tokens", "cost_usd")
        )
        sql = (
            f"SELECT id, spec_name, started, ended, status, pid, host, {_STALE_SQL},"
            " CASE WHEN jsonb_typeof(summary->'agents') = 'array'"
            " THEN jsonb_array_length(summary->'agents') END,"
            f" CASE WHEN summary IS NOT NULL THEN jsonb_build_array({fields}) END"
            " FROM runs ORDER BY started DESC, id DESC"
        )
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        with self._conn() as conn:
            rows = conn.execute(sql).fetchall()
        alive: dict[int, bool] = {}
        out: list[RunListing] = []
        for r in rows:
            status = shown_status(r[4], r[5], r[6], bool(r[7]), self._here, alive)
            wall = speedup = cost = None
            tokens: int | None = None
            if r[9]:
                wall, speedup, t_in, t_out, t_cw, t_cr, cost = r[9]
                if wall is not None:
                    tokens = int(t_in or 0) + int(t_out or 0) + int(t_cw or 0) + int(t_cr or 0)
            out.append(
                RunListing(
                    id=r[0], spec_name=r[1], started=r[2], ended=r[3], status=status,
                    agents=r[8], wall_s=wall, speedup=speedup, tokens=tokens, cost_usd=cost,
                )
            )
        return out

    # --- events ---------------------------------------------------------------

    def events(self, run_id: str, after_seq: int = 0, limit: int | None = None) -> Iterator[Event]:
        sql = f"SELECT {_EVENT_COLS} FROM events WHERE run_id=%s AND seq>%s ORDER BY seq"
        args: tuple[Any, ...] = (run_id, after_seq)
        if limit is not None:
            sql += " LIMIT %s"
            args = (*args, limit)
        with self._conn() as conn:
            rows = conn.execute(sql, args).fetchall()
        for r in rows:
            yield _event(run_id, r)

    def last_seq(self, run_id: str) -> int:
        with self._conn() as conn:
            row = conn.execute("SELECT MAX(seq) FROM events WHERE run_id=%s", (run_id,)).fetchone()
        return int(row[0] or 0) if row else 0

    def count_events(self, run_id: str) -> int:
        with self._conn() as conn:
            row = conn.execute("SELECT COUNT(*) FROM events WHERE run_id=%s", (run_id,)).fetchone()
        return int(row[0]) if row else 0

    def agent_output(
        self, run_id: str, actor: str, up_to_seq: int, *, after_seq: int = 0, page: int = 20_000
    ) -> list[str]:
        """The output lines of `actor`'s latest attempt with `after_seq` < seq <= `up_to_seq`
        (as RunStore.agent_output), read in pages by primary key."""
        lines: list[str] = []
        after = after_seq
        while after < up_to_seq:
            with self._conn() as conn:
                rows = conn.execute(
                    "SELECT seq, type, metadata FROM events WHERE run_id=%s AND seq>%s AND seq<=%s"
                    " AND actor=%s AND type IN ('agent_output', 'agent_queued') ORDER BY seq LIMIT %s",
                    (run_id, after, up_to_seq, actor, page),
                ).fetchall()
            if not rows:
                break
            for _, kind, meta in rows:
                add_output(lines, kind, json.loads(meta))
            after = rows[-1][0]
        return lines

    def wait_committed(self, run_id: str, seq: int, timeout: float = 5.0) -> bool:
        """Wait (in a worker thread) until the writer has committed `seq`."""
        return wait_committed(lambda: self.last_seq(run_id), seq, timeout)

    def insert_events(self, events: list[Event]) -> None:
        """Synchronous bulk insert (import, tests). Live runs use `PostgresWriter`."""
        with self._conn() as conn, conn.transaction(), conn.cursor() as cur:
            _copy_events(cur, events)
            _notify(cur, events)

    def writer(self) -> PostgresWriter:
        return PostgresWriter(self._url)

    def follow(self, run_id: str) -> Follower:
        return NotifyFollower(self._url, run_id)

    def seq_bounds(self, run_id: str) -> tuple[int, int]:
        with self._conn() as conn:
            row = conn.execute("SELECT MIN(seq), MAX(seq) FROM events WHERE run_id=%s", (run_id,)).fetchone()
        return (int(row[0] or 0), int(row[1] or 0)) if row else (0, 0)

    def event_at(self, run_id: str, seq: int) -> Event | None:
        found = self.events_range(run_id, seq, seq)
        return found[0] if found else None

    def events_range(self, run_id: str, first: int, last: int) -> list[Event]:
        with self._conn() as conn:
            rows = conn.execute(
                f"SELECT {_EVENT_COLS} FROM events WHERE run_id=%s AND seq BETWEEN %s AND %s ORDER BY seq",
                (run_id, first, last),
            ).fetchall()
        return [_event(run_id, r) for r in rows]

    def seq_at_time(self, run_id: str, ts: float) -> int:
        """The last seq whose event happened at or before `ts` (0 if none); a binary search
        over the primary key, as ts rises with seq."""
        lo, hi = self.seq_bounds(run_id)
        if hi == 0:
            return 0
        with self._conn() as conn:
            def ts_of(seq: int) -> float:
                row = conn.execute(
                    "SELECT ts FROM events WHERE run_id=%s AND seq>=%s ORDER BY seq LIMIT 1",
                    (run_id, seq),
                ).fetchone()
                return float(row[0]) if row else float("inf")

            return last_seq_at(ts, lo, hi, ts_of)

    def events_of_types(
        self, run_id: str, types: Iterable[str], *, up_to_seq: int, limit: int
    ) -> list[Event]:
        rows: list[Sequence[Any]] = []
        with self._conn() as conn:
            for kind in types:
                rows += conn.execute(
                    f"SELECT {_EVENT_COLS} FROM events WHERE run_id=%s AND type=%s AND seq<=%s"
                    + ("" if kind in STREAM_TYPES else STREAM_EXCLUDED)
                    + " ORDER BY seq DESC LIMIT %s",
                    (run_id, str(kind), up_to_seq, limit),
                ).fetchall()
        rows.sort(key=lambda r: int(r[0]))
        rows = rows[-limit:] if limit > 0 else []
        return [_event(run_id, r) for r in rows]

    def count_events_of_types(self, run_id: str, types: Iterable[str], *, up_to_seq: int) -> int:
        total = 0
        with self._conn() as conn:
            for kind in types:
                row = conn.execute(
                    "SELECT COUNT(*) FROM events WHERE run_id=%s AND type=%s AND seq<=%s"
                    + ("" if kind in STREAM_TYPES else STREAM_EXCLUDED),
                    (run_id, str(kind), up_to_seq),
                ).fetchone()
                total += int(row[0]) if row else 0
        return total

    def import_run(self, run: RunRow, events: Iterable[Event], source: str = "") -> int:
        """Add a recorded run and its events in one transaction, marked as imported from
        `source`; refuses a known run id."""
        with self._conn() as conn, conn.transaction(), conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (run.id,))
            if cur.execute("SELECT 1 FROM runs WHERE id=%s", (run.id,)).fetchone():
                raise StoreError(f"run {run.id} is already in {self.path}")
            cur.execute(
                "INSERT INTO runs (id, spec_name, spec_path, spec_text, started, ended, status,"
                " summary, pid, host) VALUES (%s, %s, %s, %s, %s, %s, %s, %s::jsonb, NULL, NULL)",
                (run.id, run.spec_name, run.spec_path, run.spec_text, run.started, run.ended,
                 run.status, json.dumps(run.summary, default=str) if run.summary else None),
            )
            cur.execute(
                "INSERT INTO imports (run_id, source, imported) VALUES (%s, %s, %s)",
                (run.id, source or "?", time.time()),
            )
            return _copy_events(cur, events)


class PostgresWriter(BatchWriter["psycopg.Connection[Any]"]):
    """One thread that commits queued events with one COPY per batch (`BatchWriter`),
    notifies watchers, and beats the heartbeat."""

    thread_name = "oneie-pg-writer"

    def __init__(self, url: str) -> None:
        self._url = url
        self._runs: set[str] = set()
        self._beat_at = time.monotonic()
        super().__init__()

    def _connect(self) -> tuple[psycopg.Connection[Any], int]:
        conn = connect(self._url)
        # Like SQLite's synchronous=NORMAL: a server crash may lose the last few hundred
        # milliseconds of events, never corrupt them; commits stop waiting for the disk
        # flush, which is most of a small batch's time.
        conn.execute("SET synchronous_commit = off")
        self._beat_at = time.monotonic()
        return conn, MAX_ROWS

    def _between(self, conn: psycopg.Connection[Any]) -> None:
        if time.monotonic() - self._beat_at >= HEARTBEAT:
            if self._runs:
                conn.execute(
                    "UPDATE runs SET heartbeat=now() WHERE id = ANY(%s) AND status='running'",
                    (sorted(self._runs),),
                )
            self._beat_at = time.monotonic()

    def _commit(self, conn: psycopg.Connection[Any], batch: list[Event]) -> None:
        with conn.transaction(), conn.cursor() as cur:
            _copy_events(cur, batch)
            runs = _notify(cur, batch)
        self._runs.update(runs)

    def _failure(self, exc: BaseException) -> BaseException:
        if isinstance(exc, psycopg.Error):
            return StoreError(scrub(_first_line(exc), self._url))
        return exc

    def _disconnect(self, conn: psycopg.Connection[Any]) -> None:
        with contextlib.suppress(Exception):
            conn.close()


class NotifyFollower:
    """LISTENs for the writer's notifications of one run. After a lost connection it
    reconnects and says the run may have moved, so the reader catches up by seq."""

    def __init__(self, url: str, run_id: str) -> None:
        self._url = url
        self._run_id = run_id
        self._conn: psycopg.Connection[Any] | None = None

    def _listen(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = connect(self._url)
            self._conn.execute(f"LISTEN {CHANNEL}")
        return self._conn

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        try:
            fresh = self._conn is None
            conn = self._listen()
            if fresh:
                return True  # whatever was written before we listened: read it
            while (left := deadline - time.monotonic()) > 0:
                for note in conn.notifies(timeout=left, stop_after=1):
                    if note.payload.rsplit(" ", 1)[0] == self._run_id:
                        return True
            return False
        except psycopg.Error:
            self.close()
            time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
            return True

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()
