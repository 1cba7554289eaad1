"""The times a user types to seek a replay (`t`): plain text in, seconds out. No Textual
and no views here, so the parser is tested on its own."""

from __future__ import annotations


def parse_time(text: str) -> float | None:
    """`12`, `12.5s`, `1:30`, `2m` → seconds; None if it is not a time."""
    text = text.strip().lower()
    try:
        if ":" in text:
            minutes, seconds = text.split(":", 1)
            return int(minutes) * 60 + float(seconds)
        if text.endswith("ms"):
            return float(text[:-2]) / 1000
        if text.endswith("m"):
            return float(text[:-1]) * 60
        return float(text.removesuffix("s"))
    except ValueError:
        return None
