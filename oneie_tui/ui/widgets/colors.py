"""Agent colours: the spec's `color` if Rich knows it, else the theme's `agent-N` palette
(or, in a theme without one, its accent colours)."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

from rich.color import Color, ColorParseError

from oneie_tui.views.run_view import RunView

PALETTE_SIZE = 8
FALLBACK = "default"
# Themes that are not ours (Textual's built-ins) have no `agent-N`: agents then take the
# theme's own accent colours in turn, so they stay told apart.
THEME_FALLBACKS = ("primary", "accent", "success", "warning", "secondary", "error")


@lru_cache(maxsize=256)
def _valid(color: str) -> bool:
    try:
        Color.parse(color)
    except ColorParseError:
        return False
    return True


def agent_colors(view: RunView, theme_variables: Mapping[str, str]) -> dict[str, str]:
    """agent id → a Rich colour, stable in roster order."""
    out: dict[str, str] = {}
    for index, agent in enumerate(view.agents.values()):
        if agent.color and _valid(agent.color):
            out[agent.id] = agent.color
            continue
        color = theme_variables.get(f"agent-{index % PALETTE_SIZE + 1}")
        if color is None:
            color = theme_variables.get(THEME_FALLBACKS[index % len(THEME_FALLBACKS)], FALLBACK)
        out[agent.id] = color
    return out
