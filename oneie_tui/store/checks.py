"""Type and range checks for values that come from outside: an imported run file, or a
stored row that something other than oneie wrote. Each check returns the problem as a
short phrase naming the field (`summary.wall_s: expected a number`), or None.

The import refuses a file with any problem (exit 2, file:line); the store's readers use
the same checks to show a damaged row as damaged instead of crashing on it."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from oneie_tui.events import USAGE_TOKEN_FIELDS, Event, EventType

RUN_STATUSES = ("running", "completed", "failed", "cancelled", "interrupted")
RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
NAME_MAX = 1_000  # spec names, actors, event types
PATH_MAX = 4_096
SPEC_TEXT_MAX = 1 << 20  # the spec loader's own limit
MAX_TS = 4_102_444_800.0  # 2100-01-01: a clock beyond it is not a clock
MAX_SECONDS = 10 * 365 * 86_400.0
MAX_TOKENS = 10**15
MAX_COST = 1e9

# Summary fields (a run's and each agent's) that are numbers >= 0, and their ceilings.
_SECONDS = ("wall_s", "sequential_s", "critical_path_s", "started_s", "ended_s", "active_s")
_RATIOS = ("speedup", "utilization", "ideal_speedup")
_COUNTS = (*USAGE_TOKEN_FIELDS, "attempts")
# Event metadata fields the views read as numbers.
_META_NUMBERS: dict[str, float] = {
    "percent": 100.0, "cost_usd": MAX_COST, "attempt": 1e6, "max_parallel": 1e9,
    "speed": 1e6, **{name: float(MAX_TOKENS) for name in USAGE_TOKEN_FIELDS},
}
_META_LISTS = ("launch", "after", "after_any", "waiting_for")  # lists of agent ids / actions


def no_constants(name: str) -> Any:
    """`json.loads(parse_constant=...)`: NaN and Infinity are not numbers we take."""
    raise ValueError(f"{name} is not a finite number")


_DECODER = json.JSONDecoder(parse_constant=no_constants)  # built once: json.loads(**kw) builds one a call


def loads(text: str) -> Any:
    return _DECODER.decode(text)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def number_problem(value: Any, field: str, most: float, *, optional: bool = True,
                   whole: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not _is_number(value) or (whole and not isinstance(value, int)):
        return f"{field}: expected {'a whole number' if whole else 'a number'}, got {_kind(value)}"
    if not 0 <= value <= most:
        return f"{field}: {value!r} is out of range (0 to {most:g})"
    return None


def text_problem(value: Any, field: str, most: int, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        return f"{field}: expected text, got {_kind(value)}"
    if len(value) > most:
        return f"{field}: {len(value):,} characters, more than {most:,}"
    if "\x00" in value:
        return f"{field}: holds a NUL character"
    return None


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__.replace("str", "text").replace("dict", "object")


def _first(*problems: str | None) -> str | None:
    return next((p for p in problems if p), None)


def summary_problem(summary: Any, field: str = "summary") -> str | None:
    """A run's summary (as `Runner.summary()` writes it), or None / {} for none."""
    if summary is None:
        return None
    if not isinstance(summary, dict):
        return f"{field}: expected an object, got {_kind(summary)}"
    problem = _first(
        *(number_problem(summary.get(k), f"{field}.{k}", MAX_SECONDS) for k in _SECONDS),
        *(number_problem(summary.get(k), f"{field}.{k}", 1e9) for k in _RATIOS),
        *(number_problem(summary.get(k), f"{field}.{k}", MAX_TOKENS, whole=True) for k in _COUNTS),
        number_problem(summary.get("cost_usd"), f"{field}.cost_usd", MAX_COST),
        text_problem(summary.get("status"), f"{field}.status", NAME_MAX, optional=True),
        text_problem(summary.get("reason"), f"{field}.reason", 100_000, optional=True),
    )
    if problem:
        return problem
    path = summary.get("critical_path")
    if path is not None and not (isinstance(path, list) and all(isinstance(p, str) for p in path)):
        return f"{field}.critical_path: expected a list of agent ids"
    agents = summary.get("agents")
    if agents is None:
        return None
    if not isinstance(agents, list):
        return f"{field}.agents: expected a list, got {_kind(agents)}"
    for i, agent in enumerate(agents):
        where = f"{field}.agents[{i}]"
        if not isinstance(agent, dict):
            return f"{where}: expected an object, got {_kind(agent)}"
        problem = _first(
            text_problem(agent.get("id"), f"{where}.id", NAME_MAX),
            text_problem(agent.get("status"), f"{where}.status", NAME_MAX, optional=True),
            text_problem(agent.get("reason"), f"{where}.reason", 100_000, optional=True),
            text_problem(agent.get("diff_stat"), f"{where}.diff_stat", NAME_MAX, optional=True),
            summary_problem({k: v for k, v in agent.items() if k not in ("id", "agents")}, where),
        )
        if problem:
            return problem
    return None


def header_problem(header: dict[str, Any]) -> str | None:
    """The `{"record": "run", ...}` line of a run file."""
    fmt = header.get("format")
    if fmt is not None and fmt != "oneie-run/1":
        return f"format: {str(fmt)[:40]!r} is not oneie-run/1"
    run_id = header.get("id")
    if not isinstance(run_id, str) or not RUN_ID.fullmatch(run_id):
        return "id: expected a run id (letters, digits, . _ : -; at most 128)"
    started, ended = header.get("started"), header.get("ended")
    problem = _first(
        text_problem(header.get("spec_name"), "spec_name", NAME_MAX, optional=True),
        text_problem(header.get("spec_path"), "spec_path", PATH_MAX, optional=True),
        text_problem(header.get("spec_text"), "spec_text", SPEC_TEXT_MAX, optional=True),
        number_problem(started, "started", MAX_TS),
        number_problem(ended, "ended", MAX_TS),
        summary_problem(header.get("summary")),
    )
    if problem:
        return problem
    status = header.get("status")
    if status is not None and status not in RUN_STATUSES:
        return f"status: {str(status)[:40]!r} is not one of {', '.join(RUN_STATUSES)}"
    if isinstance(started, int | float) and isinstance(ended, int | float) and ended < started:
        return "ended: before started"
    return None


def metadata_problem(metadata: Any, field: str = "metadata") -> str | None:
    if not isinstance(metadata, dict):
        return f"{field}: expected an object, got {_kind(metadata)}"
    for key, most in _META_NUMBERS.items():
        if key in metadata and (p := number_problem(metadata[key], f"{field}.{key}", most)):
            return p
    for key in _META_LISTS:
        value = metadata.get(key)
        if value is not None and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            return f"{field}.{key}: expected a list of text"
    agents = metadata.get("agents")  # run_started: ids; run_finished: the summary's agents
    if agents is not None and not isinstance(agents, list):
        return f"{field}.agents: expected a list, got {_kind(agents)}"
    for key in ("text", "reason", "summary", "action", "status", "note", "stream"):
        if key in metadata and (p := text_problem(metadata[key], f"{field}.{key}", 1 << 22, optional=True)):
            return p
    return None


def event_of(data: dict[str, Any]) -> Event:
    """An event from a run file's line, every field checked. ValueError names the field."""
    for key in ("seq", "run_id", "ts", "type"):
        if key not in data:
            raise ValueError(f"missing {key!r}")
    seq, ts, kind = data["seq"], data["ts"], data["type"]
    problem = _first(
        number_problem(seq, "seq", 1e15, optional=False, whole=True),
        None if isinstance(seq, int) and seq >= 1 else "seq: must be 1 or more",
        None if isinstance(data["run_id"], str) and RUN_ID.fullmatch(data["run_id"]) else "run_id: not a run id",
        number_problem(ts, "ts", MAX_TS, optional=False),
        text_problem(kind, "type", 64),
        *(text_problem(data.get(k, ""), k, NAME_MAX) for k in ("actor", "target", "group")),
        metadata_problem(data.get("metadata") or {}),
    )
    if problem:
        raise ValueError(problem)
    if kind not in EventType._value2member_map_:
        raise ValueError(f"type: {kind[:40]!r} is not an event type")
    return Event.from_dict(data)
