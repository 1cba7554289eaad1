"""Review a run's isolated agents before landing them: each agent with its diff stat,
conflict state (the radar's open findings) and verdict; for the chosen agent, its
changed files and the diff from git, coloured by line kind; `a` / `x` mark it accepted
or rejected (an `agent_reviewed` event of the run); `L` lands the accepted agents as
`oneie land` would. Reachable from the dashboard (d) and, for a finished run, history (v).
`c` on a line of the diff (tab to it, arrows or a click move its cursor) writes a review
comment that goes back to that agent as a follow-up turn (`MessageAgent`, handled by the
app through the live runner); a finished run has no agent to hear it, and says so.

Agent-written text (paths, diffs) is shown as `rich.text.Text`, never parsed as markup.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.strip import Strip
from textual.widgets import DataTable, Footer, RichLog, Static

from oneie_tui.events import EventType
from oneie_tui.land.review import DiffLine, diff_lines
from oneie_tui.store.base import Store
from oneie_tui.ui.messages import MessageAgent
from oneie_tui.ui.palette import ScreenActions
from oneie_tui.ui.screens import back_or_quit
from oneie_tui.ui.screens.comment import CommentScreen
from oneie_tui.views.land_view import printable

Publish = Callable[[str, str, dict[str, Any]], None]
MAX_LINES = 5000  # diff lines drawn; the rest is a count


class DiffView(RichLog):
    """A unified diff, one line per row, styled by kind (theme variables in review.tcss),
    with a line cursor (drawn while it has focus) for review comments."""

    COMPONENT_CLASSES = {"diff--added", "diff--removed", "diff--hunk", "diff--meta", "diff--cursor"}
    BINDINGS = [
        Binding("up", "cursor(-1)", "Line up", show=False, id="review_line_up"),
        Binding("down", "cursor(1)", "Line down", show=False, id="review_line_down"),
        Binding("pageup", "cursor_page(-1)", "Page up", show=False, id="review_line_page_up"),
        Binding("pagedown", "cursor_page(1)", "Page down", show=False, id="review_line_page_down"),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cursor_line = 0
        self.positions: list[DiffLine | None] = []  # where each row is in its file

    def current(self) -> DiffLine | None:
        """The file line under the cursor, None on a header."""
        return self.positions[self.cursor_line] if 0 <= self.cursor_line < len(self.positions) else None

    def render_line(self, y: int) -> Strip:
        strip = super().render_line(y)
        if self.has_focus and self.scroll_offset.y + y == self.cursor_line:
            strip = strip.apply_style(self.get_component_rich_style("diff--cursor"))
        return strip

    def move_cursor(self, row: int) -> None:
        self.cursor_line = max(0, min(row, max(len(self.positions), 1) - 1))
        height = max(self.scrollable_content_region.height, 1)
        top = self.scroll_offset.y
        if self.cursor_line < top:
            self.scroll_to(y=self.cursor_line, animate=False)
        elif self.cursor_line >= top + height:
            self.scroll_to(y=self.cursor_line - height + 1, animate=False)
        self.refresh()

    def action_cursor(self, delta: int) -> None:
        self.move_cursor(self.cursor_line + delta)

    def action_cursor_page(self, pages: int) -> None:
        self.move_cursor(self.cursor_line + pages * max(self.scrollable_content_region.height - 1, 1))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is not None:
            self.move_cursor(self.scroll_offset.y + offset.y)

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    def show(self, diff: str) -> None:
        self.clear()
        styles = {name: self.get_component_rich_style(f"diff--{name}") for name in ("added", "removed", "hunk", "meta")}
        lines = diff.splitlines()
        for line in lines[:MAX_LINES]:
            line = printable(line)
            if line.startswith(("+++", "---", "diff ", "index ", "new file", "deleted file")):
                style = styles["meta"]
            elif line.startswith("@@"):
                style = styles["hunk"]
            elif line.startswith("+"):
                style = styles["added"]
            elif line.startswith("-"):
                style = styles["removed"]
            else:
                style = None
            self.write(Text(line, style=style or ""), scroll_end=False)
        if len(lines) > MAX_LINES:
            self.write(Text(f"… {len(lines) - MAX_LINES:,} more lines"), scroll_end=False)
        if not lines:
            self.write(Text("no changes"))
        self.positions = diff_lines(diff)[:MAX_LINES]
        # The cursor starts on the first line of the file (not a header).
        self.cursor_line = next((i for i, p in enumerate(self.positions) if p is not None), 0)
        self.scroll_home(animate=False)
        self.refresh()


AGENT_COLUMNS = ("agent", "status", "changes", "conflicts", "verdict")


class ReviewScreen(Screen[None]):
    CSS_PATH = "review.tcss"
    COMMANDS = {ScreenActions}
    BINDINGS = [
        Binding("a", "mark('accepted')", "Accept", id="review_accept"),
        Binding("x", "mark('rejected')", "Reject", id="review_reject"),
        Binding("L", "land", "Land accepted", id="review_land"),
        Binding("c", "comment", "Comment on line", id="review_comment"),
        Binding("tab", "switch_table", "Agents/files/diff", show=False, id="review_switch"),
        Binding("ctrl+l", "reload", "Reload", show=False, id="review_reload"),
        Binding("escape", "back", "Back", id="review_back"),
    ]

    def __init__(
        self, store: Store, run_id: str, *, publish: Publish | None = None, takes_messages: bool | None = None
    ) -> None:
        """`publish`: the live runner's, while the run is live (its events stay in one
        sequence); a finished run gets its review marks appended to the store.
        `takes_messages`: the app holds this run's runner, so a comment reaches the agent
        (a finished one continues in a follow-up attempt); default: while it is live."""
        super().__init__()
        self.store = store
        self.run_id = run_id
        self.publish = publish
        self.takes_messages = publish is not None if takes_messages is None else takes_messages
        self.facts: Any = None  # RunFacts once loaded
        self.agent_id: str | None = None
        self.files: list[str] = []
        self.verdicts: dict[str, str] = {}
        self.landing: str = ""
        self._rows: list[tuple[str, ...]] = []  # what the agents table shows

    def compose(self) -> ComposeResult:
        yield Static(Text(f"review · run {self.run_id} · loading…"), id="review-title")
        with Horizontal(id="review-body"):
            with Vertical(id="review-left"):
                yield DataTable(id="review-agents", cursor_type="row", zebra_stripes=True)
                yield DataTable(id="review-files", cursor_type="row")
            yield DiffView(id="review-diff", wrap=False, highlight=False, markup=False)
        yield Static(Text(""), id="review-status")
        yield Footer()

    def on_mount(self) -> None:
        agents = self.query_one("#review-agents", DataTable)
        agents.add_columns(*AGENT_COLUMNS)
        files = self.query_one("#review-files", DataTable)
        files.add_columns("file", "+", "-")
        agents.focus()
        self.reload()

    # --- loading (git runs in threads; the screen stays responsive) -------------------

    @work(thread=True, exclusive=True, group="review-load")
    def reload(self) -> None:
        from oneie_tui.git.worktree import WorktreeError, diff_stat
        from oneie_tui.land.runfacts import RunFactsError, load_facts
        from oneie_tui.spec.loader import SpecError
        from oneie_tui.store.base import StoreError

        try:
            facts = load_facts(self.store, self.run_id)
        except (RunFactsError, SpecError, StoreError) as exc:
            self.app.call_from_thread(self._failed, str(exc))
            return
        rows: list[tuple[str, ...]] = []
        for agent_id in facts.isolated:
            info = facts.info.get(agent_id, {})
            stat = str(info.get("diff_stat", ""))
            path = info.get("worktree")
            if path and facts.status.get(agent_id) is None:  # still working: look now
                try:
                    from pathlib import Path

                    stat = diff_stat(Path(str(path)), facts.base).text
                except WorktreeError:
                    stat = "?"
            rows.append((
                agent_id, facts.status.get(agent_id, "running"), stat or "no changes",
                ", ".join(facts.conflict_of(agent_id)) or "—", facts.verdicts.get(agent_id, ""),
            ))
        self.app.call_from_thread(self._loaded, facts, rows)

    def _failed(self, message: str) -> None:
        if self._gone():
            return
        self.query_one("#review-title", Static).update(Text(f"review · run {self.run_id} · {printable(message)}"))

    def _loaded(self, facts: Any, rows: list[tuple[str, ...]]) -> None:
        if self._gone():
            return
        self.facts = facts
        self.verdicts = dict(facts.verdicts)
        title = f"review · run {self.run_id} · {facts.spec.feature.name} · base {facts.base[:12]}"
        land = facts.run.summary.get("land") if isinstance(facts.run.summary, dict) else None
        if isinstance(land, dict):
            title += f" · last landing: {land.get('status', '?')} into {land.get('into', '?')}"
            if not self.landing:  # the acceptance table of that landing
                checks = [c for c in land.get("acceptance", []) if isinstance(c, dict)]
                line = " · ".join(f"{'✓' if c.get('passed') else '✗'} {c.get('text', '')}" for c in checks)
                self.query_one("#review-status", Static).update(Text(printable(f"acceptance: {line}" if line else "")))
        self.query_one("#review-title", Static).update(Text(printable(title)))
        table = self.query_one("#review-agents", DataTable)
        keep = self.agent_id
        if rows != self._rows:  # the same rows again (a second load): no redraw from scratch
            self._rows = rows
            # Widths from the rows themselves, set as the columns are made: the table is
            # drawn at its final widths at once, not re-measured on a later idle.
            shown = [[printable(cell) for cell in row] for row in rows]
            table.clear(columns=True)
            for i, label in enumerate(AGENT_COLUMNS):
                least = len("rejected") if label == "verdict" else len(label)  # room for a mark
                table.add_column(label, width=max([least, *(len(r[i]) for r in shown)]))
            for row in shown:
                table.add_row(*(Text(cell) for cell in row), key=row[0])
        if rows:
            index = next((i for i, r in enumerate(rows) if r[0] == keep), 0)
            table.move_cursor(row=index)
            self._choose(rows[index][0])

    def _choose(self, agent_id: str) -> None:
        if agent_id != self.agent_id or not self.files:
            self.agent_id = agent_id
            self._load_agent(agent_id)

    @work(thread=True, exclusive=True, group="review-agent")
    def _load_agent(self, agent_id: str) -> None:
        from oneie_tui.git.worktree import WorktreeError
        from oneie_tui.land.review import changed_files, diff_text

        try:
            files = changed_files(self.facts, agent_id)
            diff = diff_text(self.facts, agent_id)
        except WorktreeError as exc:
            files, diff = [], f"cannot read the diff: {exc}"
        self.app.call_from_thread(self._show_agent, agent_id, files, diff)

    def _gone(self) -> bool:
        """A worker may finish after the screen has closed: then there is nothing to draw."""
        return not self.is_attached or not self.query("#review-files")

    def _show_diff(self, diff: str) -> None:
        if not self._gone():
            self.query_one("#review-diff", DiffView).show(diff)

    def _show_agent(self, agent_id: str, files: list[Any], diff: str) -> None:
        if agent_id != self.agent_id or self._gone():
            return
        table = self.query_one("#review-files", DataTable)
        table.clear()
        self.files = [f.path for f in files]
        for f in files:
            added = "bin" if f.added is None else str(f.added)
            deleted = "bin" if f.deleted is None else str(f.deleted)
            table.add_row(Text(printable(f.path)), added, deleted, key=f.path)
        table.border_title = f"{agent_id}: {len(files)} file{'s' if len(files) != 1 else ''}"
        self.query_one("#review-diff", DiffView).show(diff)

    @work(thread=True, exclusive=True, group="review-file")
    def _load_file(self, agent_id: str, path: str) -> None:
        from oneie_tui.git.worktree import WorktreeError
        from oneie_tui.land.review import diff_text

        try:
            diff = diff_text(self.facts, agent_id, path)
        except WorktreeError as exc:
            diff = f"cannot read the diff: {exc}"
        self.app.call_from_thread(self._show_diff, diff)

    @on(DataTable.RowHighlighted, "#review-agents")
    def _agent_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value is not None and self.facts is not None:
            self._choose(str(event.row_key.value))

    @on(DataTable.RowHighlighted, "#review-files")
    def _file_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value is not None and self.agent_id is not None and self.facts is not None:
            self._load_file(self.agent_id, str(event.row_key.value))

    # --- actions -------------------------------------------------------------------

    def action_mark(self, verdict: str) -> None:
        if self.agent_id is None or self.facts is None:
            return
        from oneie_tui.land.runfacts import StoreRecorder

        record = self.publish or StoreRecorder(self.store, self.run_id)
        record(EventType.AGENT_REVIEWED, self.agent_id, {"verdict": verdict})
        self.verdicts[self.agent_id] = verdict
        table = self.query_one("#review-agents", DataTable)
        table.update_cell(self.agent_id, table.ordered_columns[-1].key, Text(verdict), update_width=True)
        self.notify(f"{self.agent_id}: {verdict}", timeout=2)

    def chosen(self) -> list[str]:
        """What `L` lands: accepted agents, and completed ones not rejected."""
        if self.facts is None:
            return []
        facts = self.facts
        return [
            a for a in facts.isolated
            if self.verdicts.get(a) == "accepted"
            or (self.verdicts.get(a) != "rejected" and facts.status.get(a) == "completed")
        ]

    def action_land(self) -> None:
        if self.facts is None:
            return
        if self.publish is not None:
            self.notify("the run is still live: land it when it has finished", severity="warning")
            return
        chosen = self.chosen()
        if not chosen:
            self.notify("nothing to land: accept an agent first (a)", severity="warning")
            return
        self._land(chosen)

    @work(exclusive=True, group="review-land")
    async def _land(self, chosen: list[str]) -> None:
        from oneie_tui.git.worktree import WorktreeError
        from oneie_tui.land.flow import land_run
        from oneie_tui.land.landing import LandError
        from oneie_tui.land.runfacts import StoreRecorder

        status = self.query_one("#review-status", Static)
        status.update(Text(f"landing {', '.join(chosen)}…"))
        record = StoreRecorder(self.store, self.run_id)
        resolver = self.facts.spec.land.resolve_with  # [land] resolve_with, as `oneie land`
        run_agent = None
        if resolver:
            from oneie_tui.agents.base import BackendOptions
            from oneie_tui.engine.resolver import agent_runner
            from oneie_tui.engine.session import SetupError

            options = BackendOptions(project_dir=str(self.facts.root), worktree_dir=self.facts.worktree_dir)
            try:
                run_agent = agent_runner(self.facts.spec, resolver, self.run_id, record, options)
            except SetupError as exc:
                status.update(Text(printable(f"land failed: resolver {resolver}: {exc}")))
                self.notify(printable(str(exc)), severity="error")
                return
        try:
            outcome = await land_run(self.facts, record, chosen, resolver=resolver, run_agent=run_agent)
        except (LandError, WorktreeError) as exc:
            status.update(Text(printable(f"land failed: {exc}")))
            self.notify(printable(str(exc)), severity="error")
            return
        result = outcome.result
        parts = [f"{outcome.status}: {len(result.landed)} of {len(result.order)} into {result.into}"]
        parts += [f"left out {a} ({why.reason}: {', '.join(why.paths[:3])})"
                  + (f" (resolver {why.resolver}: {why.resolver_error})" if why.resolver else "")
                  for a, why in result.left_out.items()]
        parts[0] += "".join(f" · {a} resolved by {r}" for a, r in result.resolved.items())
        parts += [f"{'✓' if c.passed else '✗'} {c.text}" for c in outcome.checks]
        self.landing = "\n".join([" · ".join(parts[:1 + len(result.left_out)]), " · ".join(parts[1 + len(result.left_out):])]).strip()
        status.update(Text(printable(self.landing)))
        self.notify(printable(parts[0]), severity="information" if outcome.status == "landed" else "warning")
        self.reload()

    def action_switch_table(self) -> None:
        agents = self.query_one("#review-agents", DataTable)
        files = self.query_one("#review-files", DataTable)
        diff = self.query_one("#review-diff", DiffView)
        (files if agents.has_focus else diff if files.has_focus else agents).focus()

    def action_comment(self) -> None:
        """A comment on the diff line under the cursor, for the agent whose diff it is."""
        agent_id = self.agent_id
        if agent_id is None or self.facts is None:
            return
        if not self.takes_messages:
            self.notify(
                "review comments go to live runs only: this dashboard does not hold this run, so "
                "no agent is there to take a follow-up turn",
                severity="warning",
            )
            return
        spot = self.query_one("#review-diff", DiffView).current()
        if spot is None:
            self.notify("put the diff's cursor on a line first (tab to the diff, then the arrows)", severity="warning")
            return

        def send(text: str | None) -> None:
            if text:
                self.post_message(MessageAgent(agent_id, spot.comment(text)))
                self.notify(printable(f"comment sent to {agent_id}: {spot.path} line {spot.line}"), timeout=3)

        self.app.push_screen(CommentScreen(agent_id, spot), send)

    def action_reload(self) -> None:
        self.reload()

    async def action_back(self) -> None:
        await back_or_quit(self.app)
