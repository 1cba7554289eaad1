"""The coordination tools every `claude` agent gets, and what calling them does.

The schemas are identical for every agent (they are part of the cached prompt prefix).
Each call is recorded as an `agent_tool` event and shown as a line in the agent's panel.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from oneie_tui.agents.base import AgentContext
from oneie_tui.events import EventImpossible, EventType
from oneie_tui.spec.model import EVENT_NAME_RE
from oneie_tui.trust.redact import redact, redact_value

MAX_WAIT_SECONDS = 86_400.0

TOOLS: list[dict[str, Any]] = [
    {
        "name": "emit_event",
        "description": (
            "Fire a coordination event that other agents may be waiting for, e.g. "
            "schema_ready once the schema exists. Names are {domain}_{action} snake_case."
        ),
        "input_schema": {
            "type": "object",
            "properties": {
                "action": {"type": "string", "description": "event name, e.g. schema_ready"},
                "metadata": {"type": "object", "description": "facts the waiting agents need"},
            },
            "required": ["action"],
        },
    },
    {
        "name": "report_progress",
        "description": "Report how far along your task you are, shown on the dashboard.",
        "input_schema": {
            "type": "object",
            "properties": {
                "percent": {"type": "number", "minimum": 0, "maximum": 100},
                "note": {"type": "string", "description": "what you are doing now"},
            },
            "required": ["percent"],
        },
    },
    {
        "name": "wait_for_events",
        "description": (
            "Wait until other agents fire events. mode 'all' waits for every action, 'any' "
            "for the first. Returns when they fire, or when timeout seconds have passed."
        ),
        "input_schema": {
            "type": "object",
            "properties": {
                "actions": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                "mode": {"type": "string", "enum": ["all", "any"]},
                "timeout": {
                    "type": "number",
                    "description": "seconds; omit to wait as long as needed",
                },
            },
            "required": ["actions"],
        },
    },
    {
        "name": "finish",
        "description": "End your work with a summary. Call it once, when your task is done or cannot be done.",
        "input_schema": {
            "type": "object",
            "properties": {
                "summary": {"type": "string"},
                "status": {"type": "string", "enum": ["success", "failed"]},
            },
            "required": ["summary"],
        },
    },
]

TOOL_GUIDE = (
    "Coordinate only through your tools: emit_event when something others wait for becomes "
    "true, report_progress as you go, wait_for_events when you need another agent's work, "
    "and finish exactly once at the end."
)


@dataclass
class ToolOutcome:
    content: str
    is_error: bool = False
    finished: bool = False
    failed: bool = False
    summary: str = ""


def short(value: Any, limit: int = 160) -> str:
    """A one-line, redacted rendering of a tool input or result for panels and events."""
    text = (
        value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
    )
    text = redact(" ".join(text.split()))
    return text if len(text) <= limit else text[: limit - 1] + "…"


async def run_tool(ctx: AgentContext, name: str, args: Any, turn: int) -> ToolOutcome:
    """Do one tool call and return what goes back to the model."""
    shown = short(args)
    ctx.event(EventType.AGENT_TOOL, name=name, input=shown, turn=turn)
    ctx.output(f"⚙ {name} {shown}")
    if not isinstance(args, dict):
        return _error(ctx, "tool input must be a JSON object")
    if name == "emit_event":
        return _emit(ctx, args)
    if name == "report_progress":
        return _progress(ctx, args)
    if name == "wait_for_events":
        return await _wait(ctx, args)
    if name == "finish":
        return _finish(args)
    return _error(
        ctx,
        f"unknown tool {name!r}; the tools are emit_event, report_progress, wait_for_events, finish",
    )


def _error(ctx: AgentContext, message: str) -> ToolOutcome:
    ctx.output(f"  ↳ error: {message}")
    return ToolOutcome(content=message, is_error=True)


def _emit(ctx: AgentContext, args: dict[str, Any]) -> ToolOutcome:
    action = args.get("action")
    if not isinstance(action, str) or not EVENT_NAME_RE.match(action):
        return _error(
            ctx, f"action {action!r} is not a {{domain}}_{{action}} snake_case event name"
        )
    metadata = args.get("metadata") or {}
    if not isinstance(metadata, dict):
        return _error(ctx, "metadata must be an object")
    undeclared = ctx.undeclared(action)
    if undeclared:
        ctx.emit(action)  # recorded as ignored, with the reason
        return _error(ctx, undeclared)
    meta = redact_value({k: v for k, v in metadata.items() if k != "action"})
    ctx.emit(action, {**meta, "by": ctx.agent_id})
    return ToolOutcome(content=f"emitted {action}")


def _progress(ctx: AgentContext, args: dict[str, Any]) -> ToolOutcome:
    percent = args.get("percent")
    if (
        isinstance(percent, bool)
        or not isinstance(percent, int | float)
        or not math.isfinite(percent)
    ):
        return _error(ctx, "percent must be a number from 0 to 100")
    note = args.get("note", "")
    ctx.progress(float(percent), redact(str(note))[:200] if note else "")
    return ToolOutcome(content=f"progress {max(0.0, min(100.0, float(percent))):g}%")


async def _wait(ctx: AgentContext, args: dict[str, Any]) -> ToolOutcome:
    actions = args.get("actions")
    if isinstance(actions, str):
        actions = [actions]
    if not isinstance(actions, list) or not actions or not all(isinstance(a, str) for a in actions):
        return _error(ctx, "actions must be a non-empty list of event names")
    mode = args.get("mode", "all")
    if mode not in ("all", "any"):
        return _error(ctx, "mode must be 'all' or 'any'")
    timeout = args.get("timeout")
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0
    ):
        return _error(ctx, "timeout must be a number of seconds greater than 0")
    limit = min(float(timeout), MAX_WAIT_SECONDS) if timeout is not None else None
    try:
        # The runner applies the timeout, so the parallel slot comes back either way.
        events = await ctx.wait_for(actions, mode, timeout=limit)
    except EventImpossible as exc:
        return _error(ctx, f"these events can no longer fire: {', '.join(exc.actions)}")
    fired = [{"action": e.action, "by": e.actor, "metadata": _public(e.metadata)} for e in events]
    names = [e.action for e in events]
    done = bool(events) if mode == "any" else set(names) >= set(actions)
    if not done:
        missing = [a for a in actions if a not in names]
        ctx.output(f"  ↳ timed out after {limit or 0:g}s; not fired: {', '.join(missing)}")
        return ToolOutcome(
            content=json.dumps(
                {"timed_out": True, "not_fired": missing, "fired": fired}, ensure_ascii=False
            )
        )
    ctx.output(f"  ↳ fired: {', '.join(names)}")
    return ToolOutcome(content=json.dumps({"fired": fired}, ensure_ascii=False))


def _public(metadata: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in metadata.items() if k != "action"}


def _finish(args: dict[str, Any]) -> ToolOutcome:
    summary = redact(str(args.get("summary", "")).strip())
    status = args.get("status", "success")
    failed = status == "failed"
    return ToolOutcome(content="finished", finished=True, failed=failed, summary=summary)
