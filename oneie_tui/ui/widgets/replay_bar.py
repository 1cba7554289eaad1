"""The replay screen's status line."""

from __future__ import annotations

from textual.widgets import Static


class ReplayBar(Static):
    """One line: play state, speed, the clock and the event counter."""
