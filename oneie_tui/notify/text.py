"""One safe line for a notice: what a desktop popup, an OSC sequence or `notify-send`
shows. Agent text goes through the display boundary (`trust.display`: ESC, BEL and the
C1 string terminator become visible), then anything still not printable (format and
separator characters such as bidi overrides or U+2028) becomes a space, runs of blanks
become one, and the line is cut. Nothing left can end an OSC string or steer a terminal."""

from __future__ import annotations

from typing import Any

from oneie_tui.trust.display import display

MAX_LINE = 200


def one_line(text: Any, limit: int = MAX_LINE) -> str:
    shown = display(text)
    if not shown.isprintable():
        shown = "".join(c if c.isprintable() else " " for c in shown)
    shown = " ".join(shown.split())
    return shown if len(shown) <= limit else shown[: max(0, limit - 1)].rstrip() + "…"
