"""A run as a JSON-lines file: `oneie export --format jsonl` and `oneie import`.

The file is one event per line (`Event.to_json`), preceded by one line describing the run
(`{"record": "run", ...}`: spec name and text, status, summary) so an imported run
replays with its agents' roles and tasks. Import also takes files without that line, such
as the NDJSON of `oneie run --json` (its closing `summary` line is skipped).
No Textual here.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from oneie_tui.events import Event, EventType
from oneie_tui.store.base import RunRow, Store
from oneie_tui.store.checks import RUN_ID, event_of, header_problem, summary_problem
from oneie_tui.trust import json_bounds, numbers

FORMAT = "oneie-run/1"


class RunFileError(Exception):
    """The file cannot be imported. `str()` names the file and line."""


def header_of(run: RunRow) -> dict[str, Any]:
    return {
        "record": "run",
        "format": FORMAT,
        "id": run.id,
        "spec_name": run.spec_name,
        "spec_path": run.spec_path,
        "spec_text": run.spec_text,
        "started": run.started,
        "ended": run.ended,
        "status": run.status,
        "summary": run.summary,
    }


def write_jsonl(out: TextIO, run: RunRow, events: Iterable[Event]) -> int:
    out.write(json.dumps(header_of(run), separators=(",", ":"), default=str) + "\n")
    count = 0
    for e in events:
        out.write(e.to_json() + "\n")
        count += 1
    return count


@dataclass
class Scan:
    header: dict[str, Any] | None
    run_id: str
    first_seq: int
    last_seq: int
    count: int
    first: Event
    finish: Event | None  # the last run_finished / run_failed
    spec_name: str
    finish_line: int = 0


MAX_LINE = 8 << 20  # bytes: a header carries the spec (at most 1 MiB) and the summary
MAX_FILE = 1 << 30  # bytes in all: a run of millions of events fits well inside


def _records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """The file's JSON objects with their line numbers. Read a capped line at a time, so
    a hostile file (one 200 MB line, /dev/zero) costs at most MAX_LINE of memory."""
    try:
        fh = path.open("rb")
    except OSError as exc:
        raise RunFileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    with fh:
        size = os.fstat(fh.fileno()).st_size
        if size > MAX_FILE:
            raise RunFileError(f"{path}: {size:,} bytes, more than the {MAX_FILE:,} an import takes")
        total = 0
        number = 0
        while True:
            raw = fh.readline(MAX_LINE + 1)
            if not raw:
                return
            number += 1
            total += len(raw)
            if len(raw) > MAX_LINE:
                raise RunFileError(f"{path}:{number}: line longer than {MAX_LINE:,} bytes")
            if total > MAX_FILE:
                raise RunFileError(f"{path}:{number}: more than the {MAX_FILE:,} bytes an import takes")
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise RunFileError(f"{path}:{number}: not UTF-8 text") from None
            if not line.strip():
                continue
            try:
                data = json_bounds.loads(line)
            except json.JSONDecodeError as exc:
                raise RunFileError(f"{path}:{number}: not JSON ({exc.msg})") from None
            except ValueError as exc:  # nested too deep, NaN/Infinity literals
                raise RunFileError(f"{path}:{number}: {exc}") from None
            if not isinstance(data, dict):
                raise RunFileError(f"{path}:{number}: expected a JSON object")
            yield number, data


def _events(path: Path, rename: str | None) -> Iterator[tuple[int, Event | dict[str, Any]]]:
    """(line, header dict | Event), skipping a closing `oneie run --json` summary. Every
    value is checked for its type and range (`store.checks`)."""
    for number, data in _records(path):
        if data.get("record") == "run":
            if problem := header_problem(data):
                raise RunFileError(f"{path}:{number}: run record: {problem}")
            yield number, data
            continue
        if data.get("type") == "summary" and "seq" not in data:
            continue
        try:
            e = event_of(data)
            numbers.timestamp(e.ts, "ts")  # a time a replay and a Gantt can place
        except ValueError as exc:
            raise RunFileError(f"{path}:{number}: not an event ({exc})") from None
        if rename:
            e.run_id = rename
        yield number, e


def scan(path: Path, rename: str | None = None) -> Scan:
    """Check the whole file (one run, seq gap-free) before anything is written."""
    header: dict[str, Any] | None = None
    first: Event | None = None
    finish: Event | None = None
    last_seq = 0
    count = 0
    spec_name = ""
    finish_line = 0
    for number, item in _events(path, rename):
        if isinstance(item, dict):
            if header is not None or first is not None:
                raise RunFileError(f"{path}:{number}: the run record must be the first line")
            header = item
            continue
        if first is None:
            first = item
            if header is not None and not rename and str(header.get("id")) != item.run_id:
                raise RunFileError(
                    f"{path}:{number}: event of run {item.run_id}, but the file is run {header.get('id')}"
                )
        elif item.run_id != first.run_id:
            raise RunFileError(
                f"{path}:{number}: event of run {item.run_id} in a file of run {first.run_id}"
            )
        elif item.seq != last_seq + 1:
            raise RunFileError(f"{path}:{number}: seq {item.seq} follows {last_seq} (a gap or disorder)")
        last_seq = item.seq
        count += 1
        if item.type == EventType.RUN_STARTED and not spec_name:
            spec_name = str(item.metadata.get("spec", ""))
        if item.type in (EventType.RUN_FINISHED, EventType.RUN_FAILED):
            finish, finish_line = item, number
    if first is None:
        raise RunFileError(f"{path}: no events")
    return Scan(header, first.run_id, first.seq, last_seq, count, first, finish, spec_name, finish_line)


def import_run(store: Store, path: str | Path, rename: str | None = None) -> tuple[str, int]:
    """Bring the run in `path` into `store`. Returns (run id, events imported)."""
    src = Path(path)
    if rename is not None and not RUN_ID.fullmatch(rename):
        raise RunFileError(f"--as {rename[:40]!r}: not a run id (letters, digits, . _ : -; at most 128)")
    info = scan(src, rename)
    h = info.header or {}
    status = str(h.get("status") or "")
    finish_md = info.finish.metadata if info.finish else {}
    if not status or status == "running":
        # Nothing is running it here: a run that never finished reads as interrupted.
        status = str(finish_md.get("status", "")) if info.finish else "interrupted"
        if info.finish is not None and info.finish.type == EventType.RUN_FAILED:
            status = "failed"
    summary = h.get("summary") or ({k: v for k, v in finish_md.items()} if info.finish else {})
    if not h.get("summary") and (problem := summary_problem(summary, "metadata")):
        raise RunFileError(f"{src}:{info.finish_line}: not a run summary ({problem})")
    run = RunRow(
        id=info.run_id,
        spec_name=str(h.get("spec_name") or info.spec_name or "imported run"),
        spec_path=h.get("spec_path"),
        spec_text=str(h.get("spec_text") or ""),
        started=_header_time(src, h, "started") or info.first.ts,
        ended=_header_time(src, h, "ended") or (info.finish.ts if info.finish else None),
        status=status,
        summary=summary if isinstance(summary, dict) else {},
        pid=None,
        host=None,
    )
    events = (item for _, item in _events(src, rename) if isinstance(item, Event))
    count = store.import_run(run, events, source=str(src.absolute()))
    return run.id, count


def _header_time(path: Path, header: dict[str, Any], key: str) -> float | None:
    value = header.get(key)
    if value is None:
        return None
    try:
        return numbers.timestamp(value, key)
    except ValueError as exc:
        raise RunFileError(f"{path}:1: run record: {exc}") from None
