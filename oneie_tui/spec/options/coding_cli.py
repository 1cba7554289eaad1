"""Options of the headless coding-agent CLIs other than Claude Code: `codex = {...}` and
`gemini = {...}`. What every CLI takes is in `CliOptions`; each adds its own permissions."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from oneie_tui.spec.base import StrictTyped

CodexSandbox = Literal["read-only", "workspace-write", "danger-full-access"]
GeminiApproval = Literal["default", "auto_edit", "yolo", "plan"]


class CliOptions(StrictTyped):
    cli: str | None = Field(
        default=None,
        description="path to the executable (default: on PATH, then ./node_modules/.bin)",
    )
    base_url: str | None = Field(
        default=None,
        description="the model API's base URL (a proxy, a gateway or a local server)",
    )
    extra_args: list[str] = Field(default_factory=list, description="more CLI arguments, as given")
    env: dict[str, str] = Field(default_factory=dict, description="extra environment variables")
    resume: bool = Field(
        default=True, description="an interrupted or cancelled agent continues its session"
    )
    grace_seconds: float = Field(default=5.0, ge=0.0, le=300.0, description="SIGTERM to SIGKILL")


class CodexOptions(CliOptions):
    sandbox: CodexSandbox | None = Field(
        default=None,
        description="default: workspace-write in the agent's own worktree, read-only elsewhere",
    )
    api_key_env: str = Field(
        default="OPENAI_API_KEY",
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="the variable holding the key sent to base_url",
    )


class GeminiOptions(CliOptions):
    approval_mode: GeminiApproval | None = Field(
        default=None,
        description="default: auto_edit in the agent's own worktree, default elsewhere",
    )
    allowed_tools: list[str] = Field(
        default_factory=list,
        description='tools allowed without asking, e.g. ["run_shell_command(npm test)"]',
    )
