"""Options of the `claude-code` backend (the Claude Code CLI). Spec key: `claude_code = {...}`."""

from __future__ import annotations

from pydantic import Field

from oneie_tui.spec_base import Strict


class ClaudeCodeOptions(Strict):
    max_turns: int | None = Field(default=None, ge=1)
    allowed_tools: list[str] = Field(default_factory=list)
    permission_mode: str | None = None
