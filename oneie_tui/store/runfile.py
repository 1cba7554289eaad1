"""A run as a JSON-lines file: `oneie export --format jsonl` and `oneie import`.

The file is one event per line (`Event.to_json`), preceded by one line describing the run
(`{"record": "run", ...}`: spec name and text, status, summary) so an imported run
replays with its agents' roles and tasks. Import also takes files without that line, such
as the NDJSON of `oneie run --json` (its closing `summary` line is skipped).
No Textual here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from oneie_tui.events import Event
from oneie_tui.store.base import RunRow, Store

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


def _records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        fh = path.open(encoding="utf-8")
    except OSError as exc:
        raise RunFileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    with fh:
        try:
            for number, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    data = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise RunFileError(f"{path}:{number}: not JSON ({exc.msg})") from None
                if not isinstance(data, dict):
                    raise RunFileError(f"{path}:{number}: expected a JSON object")
                yield number, data
        except UnicodeDecodeError:
            raise RunFileError(f"{path}: not UTF-8 text") from None


def _events(path: Path, rename: str | None) -> Iterator[tuple[int, Event | dict[str, Any]]]:
    """(line, header dict | Event), skipping a closing `oneie run --json` summary."""
    for number, data in _records(path):
        if data.get("record") == "run":
            yield number, data
            continue
        if data.get("type") == "summary" and "seq" not in data:
            continue
        try:
            e = Event.from_dict(data)
        except (KeyError, TypeError, ValueError) as exc:
            what = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
            raise RunFileError(f"{path}:{number}: not an event ({what})") from None
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
        if item.type == "run_started" and not spec_name:
            spec_name = str(item.metadata.get("spec", ""))
        if item.type in ("run_finished", "run_failed"):
            finish = item
    if first is None:
        raise RunFileError(f"{path}: no events")
    return Scan(header, first.run_id, first.seq, last_seq, count, first, finish, spec_name)


def import_run(store: Store, path: str | Path, rename: str | None = None) -> tuple[str, int]:
    """Bring the run in `path` into `store`. Returns (run id, events imported)."""
    src = Path(path)
    info = scan(src, rename)
    h = info.header or {}
    status = str(h.get("status") or "")
    finish_md = info.finish.metadata if info.finish else {}
    if not status or status == "running":
        # Nothing is running it here: a run that never finished reads as interrupted.
        status = str(finish_md.get("status", "")) if info.finish else "interrupted"
        if info.finish is not None and info.finish.type == "run_failed":
            status = "failed"
    summary = h.get("summary") or ({k: v for k, v in finish_md.items()} if info.finish else {})
    run = RunRow(
        id=info.run_id,
        spec_name=str(h.get("spec_name") or info.spec_name or "imported run"),
        spec_path=h.get("spec_path"),
        spec_text=str(h.get("spec_text") or ""),
        started=float(h.get("started") or info.first.ts),
        ended=float(h["ended"]) if h.get("ended") is not None else (
            info.finish.ts if info.finish else None
        ),
        status=status,
        summary=summary if isinstance(summary, dict) else {},
        pid=None,
        host=None,
    )
    events = (item for _, item in _events(src, rename) if isinstance(item, Event))
    count = store.import_run(run, events)
    return run.id, count
