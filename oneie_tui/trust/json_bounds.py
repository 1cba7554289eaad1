"""JSON from outside (the line protocol, the control socket, Claude Code's stream-json)
parsed within bounds: nesting deeper than `MAX_DEPTH` is refused with a `ValueError`
before the decoder recurses, so hostile metadata such as `[[[[...]]]]` is ignored with a
marker instead of killing the agent with a RecursionError.

No dependency on the rest of the package.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 64  # far more than any real metadata or stream-json message nests

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


def depth(text: str) -> int:
    """How deep the brackets of JSON `text` nest (brackets inside strings do not count)."""
    deepest = level = 0
    for m in _BRACKET.finditer(_STRING.sub("", text) if '"' in text else text):
        if m.group() in "[{":
            level += 1
            deepest = max(deepest, level)
        else:
            level -= 1
    return deepest


def loads(text: str | bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    """`json.loads` refusing NaN/Infinity literals and nesting beyond `max_depth`.
    Raises `ValueError` (a `json.JSONDecodeError` for syntax) with a short reason."""
    if isinstance(text, bytes | bytearray):
        text = text.decode("utf-8")
    if ("[" in text or "{" in text) and text.count("[") + text.count("{") > max_depth:
        if depth(text) > max_depth:
            raise ValueError(f"JSON nested deeper than {max_depth} levels")
    return json.loads(text, parse_constant=_refuse_constant)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"JSON {name} is not a number")
