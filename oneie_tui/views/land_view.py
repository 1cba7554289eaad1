"""Landing, as the timeline, the summary and the report tell it: one line per radar,
scope, review, land and acceptance event, and the last landing of a run folded from its
events. No Textual here; agent-written text stays data (callers escape or use Text)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from oneie_tui.events import Event, EventType


def _names(values: Any, most: int = 3) -> str:
    items = [str(v) for v in values] if isinstance(values, list) else []
    more = f" +{len(items) - most}" if len(items) > most else ""
    return ", ".join(items[:most]) + more


def describe_land(e: Event) -> str | None:
    """One line for a landing event, None for any other event."""
    md = e.metadata
    kind = e.type
    agents = " and ".join(str(a) for a in md.get("agents", [])[:2]) if isinstance(md.get("agents"), list) else ""
    if kind == EventType.CONFLICT_DETECTED:
        what = "same lines" if md.get("kind") == "same_lines" else "same file"
        return f"⚠ conflict ({what}): {agents} · {_names(md.get('paths'))}"
    if kind == EventType.CONFLICT_CLEARED:
        return f"conflict cleared: {agents}"
    if kind == EventType.SCOPE_EXCEEDED:
        paused = " (paused)" if md.get("on_scope_exceeded") == "pause" else ""
        return f"outside its scope{paused}: {_names(md.get('paths'))}"
    if kind == EventType.AGENT_REVIEWED:
        return f"reviewed: {md.get('verdict', '?')}"
    if kind == EventType.LAND_STARTED:
        return f"landing {len(md.get('order', []) or [])} agents into {md.get('into', '?')}" + (
            " (dry run)" if md.get("dry_run") else ""
        )
    if kind == EventType.AGENT_LANDED:
        resolved = f" (conflicts resolved by {md['resolved_by']})" if md.get("resolved_by") else ""
        return f"landed into {md.get('into', '?')}{resolved}"
    if kind == EventType.AGENT_LEFT_OUT:
        why = str(md.get("reason", "conflicts"))
        resolver = f"; resolver {md['resolver']}: {md.get('resolver_error', '')}" if md.get("resolver") else ""
        return f"left out: {why} · {_names(md.get('paths'))}" + (
            f" (with {_names(md.get('conflicts_with'))})" if md.get("conflicts_with") else ""
        ) + resolver
    if kind == EventType.LAND_FINISHED:
        return (
            f"land {md.get('status', '?')}: {len(md.get('landed', []) or [])} landed, "
            f"{len(md.get('left_out', []) or [])} left out"
        )
    if kind == EventType.ACCEPTANCE_VALIDATED:
        return f"✓ acceptance: {md.get('text', '')}"
    if kind == EventType.ACCEPTANCE_FAILED:
        return f"✗ acceptance: {md.get('text', '')} (exit {md.get('exit_code', '?')})"
    return None


@dataclass
class Check:
    text: str
    passed: bool
    exit_code: int | None
    tail: str


@dataclass
class Landing:
    """The latest `oneie land` of a run, and the radar's findings still open at its end."""

    into: str = ""
    status: str = ""
    dry_run: bool = False
    landed: list[str] = field(default_factory=list)
    left_out: dict[str, dict[str, Any]] = field(default_factory=dict)
    resolved: dict[str, str] = field(default_factory=dict)  # agent -> its resolver
    checks: list[Check] = field(default_factory=list)
    conflicts: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    scope: dict[str, list[str]] = field(default_factory=dict)
    verdicts: dict[str, str] = field(default_factory=dict)

    def apply(self, e: Event) -> None:
        md = e.metadata
        if e.type == EventType.CONFLICT_DETECTED and len(md.get("agents", [])) == 2:
            a, b = (str(x) for x in md["agents"])
            self.conflicts[(a, b)] = {"kind": str(md.get("kind", "")), "paths": list(md.get("paths", []))}
        elif e.type == EventType.CONFLICT_CLEARED and len(md.get("agents", [])) == 2:
            a, b = (str(x) for x in md["agents"])
            self.conflicts.pop((a, b), None)
        elif e.type == EventType.SCOPE_EXCEEDED:
            self.scope.setdefault(e.actor, []).extend(str(p) for p in md.get("paths", []))
        elif e.type == EventType.AGENT_REVIEWED:
            self.verdicts[e.actor] = str(md.get("verdict", ""))
        elif e.type == EventType.LAND_STARTED:
            self.into, self.status, self.dry_run = str(md.get("into", "")), "running", bool(md.get("dry_run"))
            self.landed, self.left_out, self.checks, self.resolved = [], {}, [], {}
        elif e.type == EventType.AGENT_LANDED:
            self.landed.append(e.actor)
            if md.get("resolved_by"):
                self.resolved[e.actor] = str(md["resolved_by"])
        elif e.type == EventType.AGENT_LEFT_OUT:
            self.left_out[e.actor] = dict(md)
        elif e.type in (EventType.ACCEPTANCE_VALIDATED, EventType.ACCEPTANCE_FAILED):
            code = md.get("exit_code")
            self.checks.append(Check(
                str(md.get("text", "")), e.type == EventType.ACCEPTANCE_VALIDATED,
                code if isinstance(code, int) else None, str(md.get("output_tail", "")),
            ))
        elif e.type == EventType.LAND_FINISHED:
            self.status = str(md.get("status", ""))

    @property
    def empty(self) -> bool:
        return not (self.status or self.conflicts or self.scope or self.verdicts)


def landing_of(events: Iterable[Event]) -> Landing:
    found = Landing()
    for e in events:
        found.apply(e)
    return found


_CONTROL = {c: "?" for c in (*range(0x00, 0x09), *range(0x0B, 0x20), 0x7F, *range(0x80, 0xA0))}


def printable(text: str) -> str:
    """Text from a check or a branch, safe to print: control characters (escape
    sequences among them) become '?'; newlines and tabs stay."""
    return text.translate(_CONTROL)
