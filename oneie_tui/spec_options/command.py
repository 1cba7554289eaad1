"""Options of the `command` backend. Spec key: `command = {...}`."""

from __future__ import annotations

from pydantic import Field

from oneie_tui.spec_base import Strict


class CommandOptions(Strict):
    argv: list[str] = Field(default_factory=list, description="the command, never run through a shell")
    cwd: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
