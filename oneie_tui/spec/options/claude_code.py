"""Options of the `claude-code` backend (the Claude Code CLI). Spec key: `claude_code = {...}`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from oneie_tui.spec.options.coding_cli import CliOptions

PermissionMode = Literal["default", "acceptEdits", "plan", "bypassPermissions", "dontAsk", "auto"]


class ClaudeCodeOptions(CliOptions):
    """`cli`, `base_url` (the Anthropic API: else `--base-url`, else $ANTHROPIC_BASE_URL),
    `extra_args`, `env`, `resume` and `grace_seconds` as every coding CLI takes them."""

    max_turns: int | None = Field(default=None, ge=1)
    allowed_tools: list[str] = Field(
        default_factory=list,
        description='tools the CLI may use without asking, e.g. ["Bash", "Edit", "Write"]',
    )
    permission_mode: PermissionMode | None = None
