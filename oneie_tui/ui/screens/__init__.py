"""Screens: dashboard (editor, grid, timeline), agent (zoom), picker, confirm, history
and replay."""

from __future__ import annotations

from typing import Any

from textual.app import App


async def back_or_quit(app: App[Any]) -> None:
    """Leave the screen on top; on the last screen (history or replay opened from the
    command line), quit, which asks first while a run (a resume) is live."""
    if len(app.screen_stack) > 2:
        app.pop_screen()
    else:
        await app.action_quit()
