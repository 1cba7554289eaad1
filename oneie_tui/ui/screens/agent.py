"""One agent full-screen: all of its output, scrollable; its events; its usage.
`escape` goes back. Its keys post the same intents as a panel and hand them to the
`control` its creator gave it; a replay's zoom has none, so it hides them and acts on nothing.

The bridge keeps a capped scrollback per agent (bounded memory however long the run).
When an agent has written more than that, the zoom reads the whole output of its attempt
from the run store in a worker thread, and live lines keep arriving meanwhile."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Log, Static

from oneie_tui.store.base import Store
from oneie_tui.trust.display import display
from oneie_tui.ui import format as fmt
from oneie_tui.ui.bridge import EventBridge
from oneie_tui.ui.messages import AgentControl, CancelAgent, PauseAgent, RestartAgent
from oneie_tui.ui.widgets import Timeline, agent_colors
from oneie_tui.ui.widgets.key_footer import KeyFooter
from oneie_tui.views.run_view import AgentView, RunView

REFRESH_SECONDS = 1 / 15


@dataclass(frozen=True)
class StoredOutput:
    """Where the zoom finds output older than the scrollback: the run in the store, as of
    the event `seq()` names (the last one the view has folded)."""

    store: Store
    run_id: str
    seq: Callable[[], int]


class AgentScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="zoom_back"),
        Binding("p,space", "pause", "Pause/resume", id="pause"),
        Binding("c", "cancel", "Cancel", id="cancel"),
        Binding("r", "restart", "Restart", id="restart"),
        Binding("m", "message", "Message", id="message", show=False),
    ]

    CONTROL_ACTIONS = frozenset({"pause", "cancel", "restart", "message"})

    @dataclass
    class StoredRead:
        """One read of the store: the attempt's lines up to `seq`, when the view had
        folded `shown_at` output lines (the same instant as `seq`)."""

        attempt: int
        seq: int
        shown_at: int
        lines: list[str]

    class StoredLoaded(Message):
        def __init__(self, read: AgentScreen.StoredRead) -> None:
            super().__init__()
            self.read = read

    def __init__(
        self,
        agent_id: str,
        bridge: EventBridge,
        clock: Callable[[], float],
        *,
        control: AgentControl | None = None,
        stored: StoredOutput | None = None,
    ) -> None:
        super().__init__()
        self.agent_id = agent_id
        self.control = control
        self.controls = control is not None  # False in a replay: there is no runner to act on
        self.bridge = bridge
        self.clock = clock
        self.stored = stored
        self._shown_lines = 0
        self._attempt = -1
        self._reading = False  # a read of the store is under way (it will catch up)
        # What was last drawn, to skip redrawing what did not change (15 times a second):
        self._drawn: tuple[int, str] | None = None  # (view's last seq, theme)
        self._usage_drawn: tuple[int, float] | None = None  # (view's last seq, clock)

    def compose(self) -> ComposeResult:
        yield Static(id="zoom-title")
        with VerticalScroll(id="zoom-attention"):  # shown while the agent needs the user
            yield Static(id="zoom-attention-text", markup=False)
        with Horizontal(id="zoom-body"):
            yield Log(id="zoom-output", auto_scroll=True)
            with Vertical(id="zoom-side"):
                yield Static(id="zoom-usage")
                yield Timeline(actor=self.agent_id, id="zoom-events")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#zoom-output").border_title = "output"
        self.query_one("#zoom-usage").border_title = "usage"
        self.query_one("#zoom-events").border_title = "events"
        self.refresh_from_view()
        self.set_interval(REFRESH_SECONDS, self.refresh_from_view)
        self.query_one("#zoom-output").focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.controls or action not in self.CONTROL_ACTIONS

    def refresh_from_view(self) -> None:
        # No flush here: the screen under this one folds the bridge (and must see every
        # batch it folds, or it misses the run's end). This screen only reads the view.
        view = self.bridge.view
        agent = view.agents.get(self.agent_id)
        if agent is None:
            return
        drawn = (view.last_seq, self.app.theme)
        if drawn == self._drawn:
            self._show_usage(view, agent)  # only the clocks may have moved
            return
        self._drawn = drawn
        colors = agent_colors(view, self.app.theme_variables)
        self._show_output(agent.attempt, agent.output_lines)
        color = colors.get(self.agent_id, "default")
        title = Text()
        title.append(f" {agent.id}", style=f"bold {color}")
        if agent.role:
            title.append(f" · {agent.role}", style=color)
        title.append(f"   {fmt.badge(agent)}   {agent.progress:.0f}%")
        if agent.reason:
            title.append(f"   {agent.reason}")
        if agent.task:
            title.append(f"\n {agent.task}")
        self.query_one("#zoom-title", Static).update(title)
        self._show_attention(agent)
        self._show_usage(view, agent)
        self.query_one(Timeline).refresh_from(view, colors)

    def _show_attention(self, agent: AgentView) -> None:
        """Why it needs the user, every item's whole text (a denial is never cut here)."""
        box = self.query_one("#zoom-attention", VerticalScroll)
        box.set_class(agent.needs_attention, "-shown")
        if not agent.needs_attention:
            return
        box.border_title = agent.attention_label()
        body = Text()
        for item in agent.attention:
            if body:
                body.append("\n")
            head = item.reason.replace("_", " ") + (f" ({', '.join(item.tools)})" if item.tools else "")
            body.append(head + "\n", style="bold")
            body.append(item.text or "(no text)")
        self.query_one("#zoom-attention-text", Static).update(body)

    def _show_usage(self, view: RunView, agent: AgentView) -> None:
        now = self.clock()
        if (view.last_seq, now) == self._usage_drawn:
            return  # a paused replay: same events, same clock
        self._usage_drawn = (view.last_seq, now)
        metrics = view.metrics(now if view.ended_ts is None else view.ended_ts).agents.get(self.agent_id)
        end = agent.ended_ts if agent.ended_ts is not None else now
        # After a restart, elapsed is this attempt's and active is every attempt's: say so.
        this_try, all_tries = (" (this attempt)", " (all attempts)") if agent.attempt > 1 else ("", "")
        usage = [
            f"status      {fmt.badge(agent)}",
            f"attempt     {agent.attempt}",
            f"elapsed     {fmt.duration(end - agent.started_ts) if agent.started_ts else '—'}{this_try}",
            f"active      {fmt.duration(metrics.active_s) if metrics else '—'}{all_tries}",
            f"output      {agent.output_lines} lines",
            f"input       {fmt.tokens(agent.usage.input_tokens)} tok",
            f"output      {fmt.tokens(agent.usage.output_tokens)} tok",
            f"cache write {fmt.tokens(agent.usage.cache_write_tokens)} tok",
            f"cache read  {fmt.tokens(agent.usage.cache_read_tokens)} tok",
            f"cost        {fmt.money(agent.usage.cost_usd)}",
            f"tools       {agent.tool_calls}",
            f"events      {', '.join(agent.events_fired) or '—'}",
        ]
        self.query_one("#zoom-usage", Static).update("\n".join(usage))

    def _show_output(self, attempt: int, total: int) -> None:
        """Bring the log up to the view's `total` output lines. A restart (or a rewind)
        starts over; so does a gap, when more lines came since the last refresh than the
        scrollback keeps (the screen was starved). Both then read the store, unless a
        read is under way: its answer catches up with everything, the gap included."""
        new = total - self._shown_lines
        restarted = attempt != self._attempt or new < 0
        if not restarted and new == 0:
            return  # nothing to add: no copy of the scrollback on every refresh
        log = self.query_one("#zoom-output", Log)
        history = self.bridge.output_history(self.agent_id)
        if restarted or new > len(history):
            log.clear()
            log.write_lines(history)
            self._attempt, self._shown_lines = attempt, total
            read_needed = restarted or not self._reading
            if self.stored is not None and self.bridge.history_is_cut(self.agent_id) and read_needed:
                log.border_title = "output · reading earlier lines from the store…"
                self._reading = True
                self._read_stored(self.stored, self.StoredRead(attempt, 0, 0, []), self.stored.seq(), total)
        elif new > 0:
            log.write_lines(history[-new:])
            self._shown_lines = total

    @work(thread=True, exclusive=True, group="zoom-output", exit_on_error=False)
    def _read_stored(self, stored: StoredOutput, before: StoredRead, seq: int, shown_at: int) -> None:
        """Add the lines after `before.seq` up to `seq` to what `before` read."""
        stored.store.wait_committed(stored.run_id, seq)  # the writer batches; seq may lag
        lines = [display(line) for line in  # stored raw: shown through the display boundary
                 stored.store.agent_output(stored.run_id, self.agent_id, seq, after_seq=before.seq)]
        read = self.StoredRead(before.attempt, seq, shown_at, [*before.lines, *lines])
        self.post_message(self.StoredLoaded(read))

    @on(StoredLoaded)
    def _stored_loaded(self, event: StoredLoaded) -> None:
        read = event.read
        agent = self.bridge.view.agents.get(self.agent_id)
        if agent is None or read.attempt != self._attempt or agent.output_lines < read.shown_at:
            return  # restarted (or rewound) meanwhile: a newer read is under way
        # The scrollback ends at the view's count, so the lines folded since the read began
        # are its last `newer`, unless more came than it keeps: then read those too.
        newer = agent.output_lines - read.shown_at
        history = self.bridge.output_history(self.agent_id)
        if newer > len(history) and self.stored is not None:
            self._read_stored(self.stored, read, self.stored.seq(), agent.output_lines)
            return
        log = self.query_one("#zoom-output", Log)
        log.border_title = "output"
        log.clear()
        log.write_lines([*read.lines, *(history[-newer:] if newer > 0 else [])])
        self._shown_lines = agent.output_lines
        self._reading = False

    def action_pause(self) -> None:
        self.post_message(PauseAgent(self.agent_id))

    def action_cancel(self) -> None:
        self.post_message(CancelAgent(self.agent_id))

    def action_restart(self) -> None:
        self.post_message(RestartAgent(self.agent_id))

    def action_message(self) -> None:
        """`m`: ask what to say, then post it up (the app hands it to the runner)."""
        from oneie_tui.ui.screens.message_input import ask_message

        agent = self.bridge.view.agents.get(self.agent_id)
        ask_message(self, self.agent_id, agent.status if agent else "")

    @on(PauseAgent)
    @on(CancelAgent)
    @on(RestartAgent)
    def _control(self, event: PauseAgent | CancelAgent | RestartAgent) -> None:
        event.stop()
        if self.control is None:
            self.notify("this is a replay: no agent runs here", timeout=2)
            return
        self.control(event)
