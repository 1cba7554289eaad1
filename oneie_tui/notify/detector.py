"""The pure fold from a run's events to notices of run-level changes.

Three changes make a notice, never a single event:
- `finished`: the run ended (`run_finished` / `run_failed`), with its outcome;
- `attention`: an agent needs the user (`agent_attention`), once per agent, reason and
  attempt (the same denial repeated is one change; a message to the agent or a new
  attempt makes the next one news again);
- `stalled`: the run is live but nothing runs or is queued, and some agent was paused by
  something other than the user (the radar, when it left its scope; others may wait on
  its events): it waits on the user. A pause of the user's own is not news. The state must hold for
  `settle_seconds` first, so the instant between one agent ending and the next starting
  is not a stall.

Attention is gathered for `gather_seconds` before it is sent: agents that need the user
at once (three blocked by one failure) are one notice, and a run that ends at once (an
agent failed, the run is cancelled) is one notice, its end, naming who needs the user.

The quiet period: a kind sent at `t` is not sent again before `t + quiet_seconds`. What
comes inside it is held and sent once when it ends: attention changes are folded into
one "3 agents need you", a held stall is sent only if the run still stalls, a held finish
only if no new run started. The detector keeps no clock: every call is given `now`
(seconds, any monotonic origin), so tests drive it with a fake one.

Every string shown comes from `text.one_line` (agent ids, reasons, agent text).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from oneie_tui.events import Event, EventType, status_after
from oneie_tui.notify.settings import ALL_KINDS
from oneie_tui.notify.text import one_line

NoticeKind = Literal["finished", "attention", "stalled"]
TITLE_MAX = 80
BODY_MAX = 240
DEFAULT_SETTLE_S = 2.0
DEFAULT_GATHER_S = 1.0
_BUSY = frozenset({"running", "queued"})
_RUN_END = frozenset({EventType.RUN_FINISHED, EventType.RUN_FAILED})
REASON_WORDS = {
    "permission_denied": "tools denied",
    "question": "asks",
    "blocked": "blocked",
    "failed": "failed",
}


@dataclass(frozen=True)
class Notice:
    """One notification, built by oneie; every agent-provided piece is one safe line."""

    kind: NoticeKind
    run_id: str
    title: str
    body: str
    outcome: str | None = None
    agents: tuple[str, ...] = ()


@dataclass
class _Need:
    reason: str
    detail: str  # tools or text, one safe line


@dataclass
class NoticeDetector:
    quiet_seconds: float = 30.0
    kinds: frozenset[str] = ALL_KINDS
    settle_seconds: float = DEFAULT_SETTLE_S
    gather_seconds: float = DEFAULT_GATHER_S
    run_id: str = ""
    spec_name: str = ""
    live: bool = False
    statuses: dict[str, str] = field(default_factory=dict)
    needing: dict[str, _Need] = field(default_factory=dict)  # agents that need the user now
    _attempts: dict[str, int] = field(default_factory=dict)
    _seen: set[tuple[str, str, int]] = field(default_factory=set)  # (agent, reason, attempt)
    _sent_at: dict[str, float] = field(default_factory=dict)  # kind -> when last sent
    _held_attention: dict[str, _Need] = field(default_factory=dict)
    _held_since: float = 0.0
    _held_finish: Notice | None = None
    _user_paused: set[str] = field(default_factory=set)
    _stall_since: float | None = None
    _stall_told: bool = False

    # --- the fold -----------------------------------------------------------------

    def feed(self, e: Event, now: float) -> list[Notice]:
        """Fold one event; the notices that are due now."""
        kind = e.type
        if kind == EventType.RUN_STARTED:
            self._run_started(e)
        elif kind in _RUN_END:
            return self._run_ended(e, now)
        elif kind == EventType.AGENT_ATTENTION:
            self._attention(e, now)
        elif kind == EventType.AGENT_MESSAGE:  # the user answered: the next need is news
            self._clear_need(e.actor)
        else:
            status = status_after(e)
            if status is None:
                return []
            if kind == EventType.AGENT_QUEUED:
                attempt = _int(e.metadata.get("attempt"), 1)
                if attempt > self._attempts.get(e.actor, 1):
                    self._clear_need(e.actor)
                self._attempts[e.actor] = max(attempt, self._attempts.get(e.actor, 1))
            self.statuses[e.actor] = status
            if kind == EventType.AGENT_PAUSED and e.metadata.get("by") == "user":
                self._user_paused.add(e.actor)
            else:
                self._user_paused.discard(e.actor)
            self._check_stall(now)
        return self.poll(now)

    def poll(self, now: float) -> list[Notice]:
        """The held notices whose quiet period is over, and a stall that has settled."""
        out: list[Notice] = []
        if self._held_finish is not None and self._open("finished", now):
            out.append(self._send(self._held_finish, now))
            self._held_finish = None
        if (
            self._held_attention
            and now - self._held_since >= self.gather_seconds
            and self._open("attention", now)
        ):
            out.append(self._send(self._attention_notice(self._held_attention), now))
            self._held_attention = {}
        if (
            self.live
            and self._stall_since is not None
            and not self._stall_told
            and now - self._stall_since >= self.settle_seconds
            and self._open("stalled", now)
        ):
            self._stall_told = True
            if "stalled" in self.kinds:
                out.append(self._send(self._stall_notice(), now))
        return out

    # --- the changes --------------------------------------------------------------

    def _run_started(self, e: Event) -> None:
        self.run_id = one_line(e.run_id, 80)
        self.spec_name = one_line(e.metadata.get("spec", self.spec_name), 60)
        self.live = True
        self._held_finish = None  # a new episode of the run: an older end is moot
        self._stall_since, self._stall_told = None, False
        agents = e.metadata.get("agents")
        for agent in agents if isinstance(agents, list) else []:
            self.statuses.setdefault(str(agent), "pending")

    def _run_ended(self, e: Event, now: float) -> list[Notice]:
        self.run_id = self.run_id or one_line(e.run_id, 80)
        self.live = False
        self._stall_since, self._stall_told = None, False
        self._held_attention = {}  # the finish names who still needs the user
        out = self.poll(now)
        if "finished" not in self.kinds:
            return out
        notice = self._finish_notice(e)
        if self._open("finished", now):
            out.append(self._send(notice, now))
        else:
            self._held_finish = notice
        return out

    def _attention(self, e: Event, now: float) -> None:
        md = e.metadata
        reason = str(md.get("reason", ""))
        key = (e.actor, reason, self._attempts.get(e.actor, 1))
        if key in self._seen:
            return
        self._seen.add(key)
        tools = md.get("tools")
        detail = ", ".join(str(t) for t in tools) if isinstance(tools, list) and tools else str(md.get("text", ""))
        need = _Need(one_line(reason, 40), one_line(detail, 120))
        self.needing[e.actor] = need
        if "attention" in self.kinds:
            if not self._held_attention:
                self._held_since = now
            self._held_attention[e.actor] = need  # sent by poll once gathered and quiet

    def _clear_need(self, agent: str) -> None:
        self.needing.pop(agent, None)
        self._held_attention.pop(agent, None)
        self._seen = {k for k in self._seen if k[0] != agent}

    def _check_stall(self, now: float) -> None:
        values = self.statuses.values()
        # Only what the user did not do: agents the user paused (and those waiting on
        # them) are the user's own doing, not news. A pause by the radar is.
        held = any(s == "paused" and a not in self._user_paused for a, s in self.statuses.items())
        stalled = self.live and not any(s in _BUSY for s in values) and held
        if not stalled:
            self._stall_since, self._stall_told = None, False
        elif self._stall_since is None:
            self._stall_since = now

    # --- the quiet period ---------------------------------------------------------

    def _open(self, kind: str, now: float) -> bool:
        last = self._sent_at.get(kind)
        return last is None or now - last >= self.quiet_seconds

    def _send(self, notice: Notice, now: float) -> Notice:
        self._sent_at[notice.kind] = now
        return notice

    # --- the words ----------------------------------------------------------------

    def _attention_notice(self, held: dict[str, _Need]) -> Notice:
        agents = tuple(one_line(a, 64) for a in held)
        if len(held) == 1:
            (agent, need), = held.items()
            title = f"oneie: {one_line(agent, 64)} needs you"
            body = _need_words(need)
        else:
            title = f"oneie: {len(held)} agents need you"
            body = "; ".join(f"{one_line(a, 64)} ({_need_words(n)})" for a, n in held.items())
        return Notice("attention", self.run_id, _cut(title, TITLE_MAX), _cut(self._where(body), BODY_MAX), None, agents)

    def _stall_notice(self) -> Notice:
        paused = [a for a, s in self.statuses.items() if s == "paused"]
        waiting = [a for a, s in self.statuses.items() if s == "waiting"]
        parts = [f"{label} {', '.join(one_line(a, 64) for a in names)}"
                 for label, names in (("paused:", paused), ("waiting:", waiting)) if names]
        body = "nothing is running; " + "; ".join(parts)
        return Notice("stalled", self.run_id, f"oneie: run {self.run_id} waits on you"[:TITLE_MAX],
                      _cut(self._where(body), BODY_MAX), None, tuple(one_line(a, 64) for a in paused + waiting))

    def _finish_notice(self, e: Event) -> Notice:
        md = e.metadata
        failed = e.type == EventType.RUN_FAILED
        outcome = one_line(md.get("outcome") or md.get("status") or ("failed" if failed else "completed"), 60)
        body = self.spec_name or "run"
        if md.get("reason"):
            body += f": {one_line(md['reason'], 100)}"
        if self.needing:
            names = ", ".join(one_line(a, 64) for a in self.needing)
            body += f"; {len(self.needing)} need{'s' if len(self.needing) == 1 else ''} you: {names}"
        return Notice("finished", self.run_id, _cut(f"oneie: run {outcome}", TITLE_MAX),
                      _cut(f"{body} (run {self.run_id})", BODY_MAX), outcome, tuple(self.needing))

    def _where(self, body: str) -> str:
        return f"{body} (run {self.run_id})" if self.run_id else body


def _need_words(need: _Need) -> str:
    words = REASON_WORDS.get(need.reason, need.reason or "needs you")
    return f"{words}: {need.detail}" if need.detail else words


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default
