"""Options of the `command` backend. Spec key: `command = {...}`."""

from __future__ import annotations

from pydantic import Field

from oneie_tui.spec.base import StrictTyped


class CommandOptions(StrictTyped):
    argv: list[str] = Field(
        default_factory=list,
        description="the command and its arguments; never run through a shell",
    )
    cwd: str | None = Field(
        default=None,
        description="working folder, relative to the agent's worktree (or the project folder)",
    )
    env: dict[str, str] = Field(default_factory=dict, description="extra environment variables")
    inherit_env: bool = Field(default=True, description="start from oneie's own environment")
    line_protocol: bool = Field(
        default=True, description="read `::oneie event|progress|usage` lines on stdout"
    )
    stdin: bool = Field(
        default=False,
        description="a pipe on stdin: each message sent to the agent (`oneie send`, the "
        "dashboard's m) arrives as one line; off, stdin is closed",
    )
    ok_exit_codes: list[int] = Field(default_factory=lambda: [0], min_length=1)
    # 1.5 s: a cancelled agent is gone within 2 s even if it ignores SIGTERM.
    grace_seconds: float = Field(
        default=1.5, ge=0.0, le=300.0, description="SIGTERM to SIGKILL on cancel"
    )
