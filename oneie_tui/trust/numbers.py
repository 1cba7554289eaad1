"""Numbers from outside (agents, servers, stored or imported runs, the command line) are
checked here: finite, of the right kind and in range, or a `ValueError` with one short
reason. One checker for the line protocol, the control socket, Claude Code's `result`,
API usage, progress, timestamps and the CLI's numeric options, so NaN, infinity, a
negative count or a boolean can never slip into a total or switch a budget off.

No dependency on the rest of the package.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import Any

MAX_TOKENS = 10**12  # more than any run will use; a larger figure is a lie or a bug
MAX_COST_USD = 10.0**7
MAX_TS = 10.0**11  # seconds since the epoch: year ~5100


def number(value: Any, name: str, *, low: float | None = None, high: float | None = None) -> float:
    """`value` as a finite float within [low, high]; bools and strings are refused."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise ValueError(f"{name} must be a number, got {_shown(value)}")
    try:
        result = float(value)
    except OverflowError:  # an int beyond float range
        raise ValueError(f"{name} is out of range") from None
    if not math.isfinite(result):
        raise ValueError(f"{name} must be a finite number, got {_shown(value)}")
    if low is not None and result < low:
        raise ValueError(f"{name} must be ≥ {low:g}, got {result:g}")
    if high is not None and result > high:
        raise ValueError(f"{name} must be ≤ {high:g}, got {result:g}")
    return result


def count(value: Any, name: str, *, high: int = MAX_TOKENS) -> int:
    """A whole number from 0 to `high` (token counts)."""
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= high:
        raise ValueError(f"{name} must be a whole number from 0 to {high:,}, got {_shown(value)}")
    return value


def cost(value: Any, name: str = "cost_usd") -> float:
    return number(value, name, low=0.0, high=MAX_COST_USD)


def percent(value: Any, name: str = "percent") -> float:
    return number(value, name, low=0.0, high=100.0)


def timestamp(value: Any, name: str = "ts") -> float:
    return number(value, name, low=0.0, high=MAX_TS)


def parse_number(text: str, name: str, *, low: float | None = None, high: float | None = None) -> float:
    """A number written as text (`40`, `12.5`), checked like `number`."""
    try:
        value = float(text.strip())
    except ValueError:
        raise ValueError(f"{name} {text!r} is not a number") from None
    return number(value, name, low=low, high=high)


def finite_or(value: Any, default: float) -> float:
    """For folds over stored events: `value` as a float when it is a finite number, else
    `default` (a stored run is shown as far as it can be, never crashed on)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            result = float(value)
        except OverflowError:
            return default
        if math.isfinite(result):
            return result
    return default


def json_safe(value: Any) -> Any:
    """JSON-like data with every NaN or infinite float replaced by None, so the output is
    strict JSON (`json.dumps(..., allow_nan=False)` never raises on it)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def option(name: str, *, low: float | None = None, high: float | None = None, low_open: bool = False,
           integer: bool = False) -> Callable[[str], Any]:
    """An argparse `type=` for a numeric option: a bad value is a usage error (exit 2)
    naming the option, never NaN or a traceback. `low_open`: `low` itself is refused."""

    def parse(text: str) -> Any:
        try:
            value = parse_number(text, name, low=low, high=high)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        if low_open and low is not None and value <= low:
            raise argparse.ArgumentTypeError(f"{name} must be > {low:g}, got {text!r}")
        if integer:
            if value != int(value):
                raise argparse.ArgumentTypeError(f"{name} must be a whole number, got {text!r}")
            return int(value)
        return value

    parse.__name__ = name  # argparse names the type in its message
    return parse


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
