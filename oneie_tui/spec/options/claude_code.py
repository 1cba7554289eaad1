"""Options of the `claude-code` backend (the Claude Code CLI). Spec key: `claude_code = {...}`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from oneie_tui.spec.base import StrictTyped

PermissionMode = Literal["default", "acceptEdits", "plan", "bypassPermissions", "dontAsk", "auto"]


class ClaudeCodeOptions(StrictTyped):
    max_turns: int | None = Field(default=None, ge=1)
    allowed_tools: list[str] = Field(
        default_factory=list,
        description='tools the CLI may use without asking, e.g. ["Bash", "Edit", "Write"]',
    )
    permission_mode: PermissionMode | None = None
    cli: str | None = Field(
        default=None,
        description="path to the claude executable (default: `claude` on PATH, then ./node_modules/.bin)",
    )
    extra_args: list[str] = Field(default_factory=list, description="more CLI arguments, as given")
    env: dict[str, str] = Field(default_factory=dict, description="extra environment variables")
    resume: bool = Field(
        default=True,
        description="an interrupted or cancelled agent continues its session (--resume)",
    )
    grace_seconds: float = Field(default=5.0, ge=0.0, le=300.0, description="SIGTERM to SIGKILL")
