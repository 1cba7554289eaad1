"""From runner events to the widgets: buffer on the bus, fold once per frame.

The runner publishes on its `EventBus` (same event loop). `EventBridge.push` only appends
to a list, so the runner's hot path stays cheap however fast agents write. Once per frame
(~30 Hz, a timer in the app) `flush` folds the buffer into the `RunView` and records
which agents changed; the app then posts one `RunUpdated` message (it supersedes any
still queued) and the screen redraws only the dirty panels. Memory is bounded: the
view keeps a tail per agent and the bridge a capped scrollback for the zoom screen.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from oneie_tui.events import Event, EventBus, EventType, Subscription
from oneie_tui.trust.display import display
from oneie_tui.views.run_view import TIMELINE_TYPES, RunView

SCROLLBACK = 2000  # output lines kept per agent for the zoom screen (bounded memory)
RUN_TYPES = frozenset({EventType.RUN_STARTED, EventType.RUN_FINISHED, EventType.RUN_FAILED})


class EventBridge:
    def __init__(self, view: RunView, scrollback: int = SCROLLBACK) -> None:
        self.view = view
        self.scrollback_lines = scrollback
        self.scrollback: dict[str, deque[str]] = {}
        self._buffer: list[Event] = []
        self._dirty: set[str] = set()
        self._timeline_dirty = False
        self._status_dirty = False
        self._sub: Subscription | None = None
        self._bus: EventBus | None = None
        self.events_in = 0  # pushed (what the runner has published to us)
        self.events_applied = 0  # folded into the view (what the widgets can show)
        self.applied_seq = 0

    # --- wiring -------------------------------------------------------------------

    def attach(self, bus: EventBus) -> None:
        self.detach()
        self._bus = bus
        self._sub = bus.subscribe(self.push)

    def detach(self) -> None:
        if self._bus is not None and self._sub is not None:
            self._bus.unsubscribe(self._sub)
        self._bus = None
        self._sub = None

    def push(self, event: Event) -> None:
        """The bus handler: O(1), no folding, no widgets."""
        self._buffer.append(event)
        self.events_in += 1

    def feed(self, events: Iterable[Event]) -> None:
        """Push recorded events (tests, demos) as if the runner had published them."""
        for event in events:
            self.push(event)

    # --- per frame ----------------------------------------------------------------

    def flush(self) -> bool:
        """Fold everything buffered into the view. True if anything changed."""
        if not self._buffer:
            return False
        events, self._buffer = self._buffer, []
        view = self.view
        dirty = self._dirty
        for e in events:
            view.apply(e)
            kind = e.type
            if kind in TIMELINE_TYPES:
                self._timeline_dirty = True
            if kind in RUN_TYPES:
                self._status_dirty = True
                dirty.update(view.agents)
                continue
            if e.actor != "runner":
                dirty.add(e.actor)
                if kind == EventType.AGENT_OUTPUT:
                    lines = self.scrollback.get(e.actor)
                    if lines is None:
                        lines = self.scrollback[e.actor] = deque(maxlen=self.scrollback_lines)
                    lines.extend(map(display, str(e.metadata.get("text", "")).splitlines() or [""]))
        self.events_applied += len(events)
        self.applied_seq = events[-1].seq
        return True

    def take_dirty(self) -> tuple[set[str], bool, bool]:
        """(agents changed, timeline changed, run status changed) since the last call."""
        dirty, timeline, status = self._dirty, self._timeline_dirty, self._status_dirty
        self._dirty = set()
        self._timeline_dirty = False
        self._status_dirty = False
        return dirty, timeline, status

    def _kept(self, agent_id: str) -> deque[str] | None:
        """The capped scrollback of one agent, else the view's tail."""
        lines = self.scrollback.get(agent_id)
        if lines is None:
            agent = self.view.agents.get(agent_id)
            lines = agent.output if agent else None
        return lines

    def output_history(self, agent_id: str) -> list[str]:
        return list(self._kept(agent_id) or ())

    def history_is_cut(self, agent_id: str) -> bool:
        """The kept lines are full, so older ones may have been dropped."""
        lines = self._kept(agent_id)
        return lines is not None and lines.maxlen is not None and len(lines) >= lines.maxlen
