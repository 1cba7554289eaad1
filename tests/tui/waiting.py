"""Pilot tests wait for the state they check, never for a fixed time: a loaded CI machine
stretches every frame."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.pilot import Pilot


async def wait_until(pilot: Pilot[Any], condition: Callable[[], object], rounds: int = 1500) -> None:
    """Let the app work until `condition()` holds; fail after `rounds` pauses of 20 ms."""
    for _ in range(rounds):
        if condition():
            return
        await pilot.pause(0.02)
    raise AssertionError("condition never held")
