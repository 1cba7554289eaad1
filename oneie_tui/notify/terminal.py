"""The bytes of a notice for the terminal itself: the bell, and a desktop notification
through OSC 9 (iTerm2, WezTerm, kitty, foot, Ghostty) or OSC 777 (rxvt-unicode, VTE
terminals such as GNOME Terminal, foot, Ghostty), chosen from the environment.

Only oneie's own notice goes into them, and every piece of it is first made one safe line
(`text.one_line`: no ESC, BEL, ST or other control), and `;` is taken out of OSC 777's
fields, so nothing can end the sequence early and write to the terminal. Inside tmux or
screen no OSC is sent (they would swallow it or pass it to the wrong place)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from oneie_tui.notify.detector import Notice
from oneie_tui.notify.text import one_line

Osc = Literal["osc9", "osc777"]
BEL = "\a"
OSC9_PROGRAMS = frozenset({"iterm.app", "wezterm", "ghostty"})
OSC9_TERMS = ("xterm-kitty", "foot", "xterm-ghostty", "wezterm")


def osc_flavor(env: Mapping[str, str]) -> Osc | None:
    """The OSC desktop notification this terminal understands, or None."""
    if env.get("TMUX") or env.get("STY"):
        return None
    program = env.get("TERM_PROGRAM", "").lower()
    term = env.get("TERM", "").lower()
    if program in OSC9_PROGRAMS or env.get("KITTY_WINDOW_ID") or term.startswith(OSC9_TERMS):
        return "osc9"
    if term.startswith("rxvt") or env.get("VTE_VERSION"):
        return "osc777"
    return None


def osc_sequence(notice: Notice, flavor: Osc) -> str:
    title = one_line(notice.title, 80)
    body = one_line(notice.body, 200)
    if flavor == "osc9":
        # OSC 9 has one field; "9;4;..." would be read as a progress report by some.
        return f"\x1b]9;{title}: {body}{BEL}"
    return f"\x1b]777;notify;{title.replace(';', ',')};{body.replace(';', ',')}{BEL}"


def terminal_bytes(notice: Notice, *, bell: bool, flavor: Osc | None) -> str:
    """What to write for `notice`: the bell and/or one OSC sequence (maybe nothing)."""
    return (BEL if bell else "") + (osc_sequence(notice, flavor) if flavor else "")
