"""A review comment on one diff line: which agent hears it, the file and line, the line
itself, and the comment to type. Enter gives the text back (the review screen sends it to
the agent); escape gives None. The line is the agent's own text: shown as data."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Input, Label, Static

from oneie_tui.land.review import DiffLine
from oneie_tui.ui.screens.message_input import AskTextScreen
from oneie_tui.views.land_view import printable

MAX_COMMENT = 4000  # characters: a comment, not a document


class CommentScreen(AskTextScreen):
    CSS_PATH = "comment.tcss"
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="comment_cancel")]
    EMPTY_HINT = "a comment, please (esc cancels)"

    def __init__(self, agent_id: str, spot: DiffLine) -> None:
        super().__init__()
        self.agent_id = agent_id
        self.spot = spot

    def compose(self) -> ComposeResult:
        spot = self.spot
        sign = {"added": "+", "removed": "-", "context": " "}[spot.kind]
        with Vertical(id="comment-box"):
            yield Label(printable(f"comment to {self.agent_id} on {spot.path} line {spot.line}"), id="comment-where", markup=False)
            yield Static(Text(printable(f"{sign}{spot.text}"), no_wrap=True, overflow="ellipsis"), id="comment-line")
            yield Input(placeholder="what should the agent change here?", max_length=MAX_COMMENT, id="comment-text")
            yield Label("enter sends it to the agent as a follow-up turn · esc cancels", id="comment-hint")
