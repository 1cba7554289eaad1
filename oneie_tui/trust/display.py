"""The display boundary: text from outside (agents, tools, servers, specs, imported runs)
is made safe here before any terminal shows it.

`display(text)` turns every control character a terminal would act on into a visible
escape: C0 as caret notation (`ESC` → `^[`, `BEL` → `^G`, `NUL` → `^@`), DEL as `^?` and
the C1 range as `\\x9b`. Tab stays (it moves the cursor, nothing more), and newline stays
only where the caller splits lines itself (`keep_newlines=True`). So an agent printing
`ESC ] 52 ; c ; ... BEL` (write the clipboard), a title set or a clear-screen shows those
bytes as text and never steers the terminal. The store keeps the raw text; only what is
shown passes through here.

`safe_text(text, style)` is the same as a rich `Text`, never parsed as markup. No
dependency on the rest of the package (views, commands and ui all import it).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.text import Text

# C0 (except tab), DEL, C1. Newline is in the set too; `keep_newlines` takes it out.
_UNSAFE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")
_UNSAFE_KEEP_NL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _escape_of(code: int) -> str:
    if code < 0x20:
        return "^" + chr(code + 0x40)  # ^@ ^A ... ^[ ... ^_
    if code == 0x7F:
        return "^?"
    return f"\\x{code:02x}"  # C1: there is no caret form


_TABLE = {c: _escape_of(c) for c in (*range(0x00, 0x20), *range(0x7F, 0xA0)) if c != 0x09}
_TABLE_KEEP_NL = {c: e for c, e in _TABLE.items() if c != 0x0A}


def display(text: Any, *, keep_newlines: bool = False) -> str:
    """`text` (any value, shown as `str`) with every control character a visible escape."""
    s = text if isinstance(text, str) else str(text)
    if s.isprintable():  # the common case, in C: no control character at all
        return s
    if keep_newlines:
        return s.translate(_TABLE_KEEP_NL) if _UNSAFE_KEEP_NL.search(s) else s
    return s.translate(_TABLE) if _UNSAFE.search(s) else s  # the common case copies nothing


def is_safe(text: str, *, keep_newlines: bool = False) -> bool:
    """True when `display` would leave `text` as it is."""
    return (_UNSAFE_KEEP_NL if keep_newlines else _UNSAFE).search(text) is None


def safe_text(text: Any, style: str = "") -> Text:
    """A rich `Text` of `display(text)`: shown literally, never parsed as markup."""
    from rich.text import Text

    return Text(display(text), style=style)


def display_value(value: Any) -> Any:
    """`display` applied to every string inside JSON-like data (dict keys too)."""
    if isinstance(value, str):
        return display(value)
    if isinstance(value, dict):
        return {display(k): display_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [display_value(v) for v in value]
    return value
