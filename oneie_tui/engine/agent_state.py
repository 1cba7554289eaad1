"""One agent's live state inside the runner: status, wait, pause gate, clock, slot.

Kept apart from `runner.py` so the scheduling code reads as rules over these fields.
No Textual here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import anyio

from oneie_tui.agents.base import AgentContext, Usage
from oneie_tui.events import TERMINAL_STATUSES as TERMINAL
from oneie_tui.events import AgentStatus, Event
from oneie_tui.spec.model import AgentSpec

Status = AgentStatus  # the runner's name for it


@dataclass(eq=False)  # identity-hashed: it is the slot borrower token
class AgentState:
    spec: AgentSpec
    status: Status = "pending"
    reason: str = ""
    progress: float = 0.0
    attempt: int = 0
    wait_all: list[str] = field(default_factory=list)  # what the current wait needs: all of
    wait_any: list[str] = field(default_factory=list)  # ... and one of (if any)
    wait_timed: bool = False  # the current wait has a timeout
    usage: Usage = field(default_factory=Usage)
    summary: str = ""
    race_lost: bool = False
    interrupted: bool = False  # its node or host died: resume runs it again
    # internals
    scope: anyio.CancelScope | None = None
    ctx: AgentContext | None = None
    cancel_reason: str = ""
    cancel_type: Status = "cancelled"
    paused: bool = False
    paused_from: Status = "running"  # what resume() returns to
    unpaused: anyio.Event = field(default_factory=anyio.Event)
    holds_slot: bool = False
    holds_resources: bool = False  # a place under the process's fd / process limits
    run_since: float | None = None
    attempt_active: float = 0.0
    relaunch: bool = False
    timeout_scope: anyio.CancelScope | None = None
    timeout_left: float = math.inf
    # Messages for an attempt that has no context yet (queued, or waiting to start).
    inbox: list[str] = field(default_factory=list)
    # A message to the finished agent: the next launch is a follow-up attempt with it.
    pending_followup: str = ""
    followup: str = ""  # the current attempt's follow-up text ("" for a fresh attempt)

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def waiting_for(self) -> list[str]:
        """The events the current wait is for (all of, then one of)."""
        return [*self.wait_all, *self.wait_any]

    def can_act(self, fired: dict[str, Event]) -> bool:
        """Could this agent still fire an event: it runs (or is paused while running), is
        queued, or waits for events that have all fired but has not woken up yet."""
        if self.relaunch:
            return True
        status = self.paused_from if self.paused else self.status
        if status in ("running", "queued"):
            return True
        if status == "waiting":
            if self.wait_timed:
                return True
            return all(a in fired for a in self.wait_all) and (
                not self.wait_any or any(a in fired for a in self.wait_any)
            )
        return False
