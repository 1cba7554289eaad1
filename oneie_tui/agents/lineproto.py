"""The line protocol a `command` agent speaks on stdout.

A line that starts with `::oneie ` is a directive, not output:

    ::oneie event ACTION [JSON-OBJECT]     fire a coordination event (task_event)
    ::oneie progress PERCENT [NOTE...]     report progress, 0-100
    ::oneie usage JSON-OBJECT              add tokens/cost (input_tokens, output_tokens,
                                           cache_write_tokens, cache_read_tokens, cost_usd)

Any other line is output. A malformed directive is reported (`Invalid`) and shown, so a
typo is visible instead of silently swallowed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from oneie_tui.trust import json_bounds, numbers

PREFIX = "::oneie "
# Same rule as the spec's event names: {domain}_{action} snake_case.
ACTION_RE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)+$")
MAX_ACTION = 128  # as a spec's event names
USAGE_KEYS = ("input_tokens", "output_tokens", "cache_write_tokens", "cache_read_tokens")


@dataclass(frozen=True)
class EmitDirective:
    action: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ProgressDirective:
    percent: float
    note: str = ""


@dataclass(frozen=True)
class UsageDirective:
    tokens: dict[str, int]
    cost_usd: float = 0.0


@dataclass(frozen=True)
class Invalid:
    line: str
    reason: str


Directive = EmitDirective | ProgressDirective | UsageDirective | Invalid


def check_action(action: str) -> str | None:
    """Why `action` is not a valid event name, or None."""
    if len(action) > MAX_ACTION:
        return f"event name is longer than {MAX_ACTION} characters"
    if not ACTION_RE.match(action):
        return f"event name {action!r} is not {{domain}}_{{action}} snake_case (e.g. schema_ready)"
    return None


def parse_metadata(text: str) -> dict[str, Any]:
    """A JSON object, or ValueError with a short reason (bad JSON, NaN, too deep)."""
    try:
        value = json_bounds.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"metadata is not valid JSON ({exc.msg})") from None
    except ValueError as exc:
        raise ValueError(f"metadata: {exc}") from None
    if not isinstance(value, dict):
        raise ValueError("metadata must be a JSON object")
    return value


def parse_percent(text: str) -> float:
    value = numbers.parse_number(text, "progress")  # a finite number
    if not 0 <= value <= 100:
        raise ValueError(f"progress {text!r} is not between 0 and 100")
    return value


def parse_line(line: str) -> Directive | None:
    """The directive on this line, or None when it is plain output."""
    if not line.startswith(PREFIX):
        return None
    rest = line[len(PREFIX) :].strip()
    verb, _, args = rest.partition(" ")
    args = args.strip()
    try:
        if verb == "event":
            action, _, meta = args.partition(" ")
            reason = check_action(action)
            if reason:
                return Invalid(line, reason)
            return EmitDirective(action, parse_metadata(meta) if meta.strip() else {})
        if verb == "progress":
            number, _, note = args.partition(" ")
            return ProgressDirective(parse_percent(number), note.strip())
        if verb == "usage":
            data = parse_metadata(args)
            tokens = {k: numbers.count(data.get(k, 0), k) for k in USAGE_KEYS}
            return UsageDirective(tokens, numbers.cost(data.get("cost_usd", 0.0)))
    except ValueError as exc:
        return Invalid(line, str(exc))
    return Invalid(line, f"unknown directive {verb!r} (known: event, progress, usage)")

