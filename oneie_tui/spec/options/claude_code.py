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


# Tools of the CLI that change files (Bash can, whatever it runs).
EDIT_TOOLS = ("Write", "Edit", "MultiEdit", "NotebookEdit")  # what acceptEdits lets through
FILE_TOOLS = (*EDIT_TOOLS, "Bash")
_MODE_FLAGS = ("--permission-mode", "--dangerously-skip-permissions")


def permission_mode_of(opts: ClaudeCodeOptions, isolated: bool) -> PermissionMode | None:
    """The mode the CLI runs in: the spec's; else `acceptEdits` for an agent in its own
    worktree (it may edit files there: the worktree is a disposable branch the user
    reviews before landing); else the CLI's own default (None: no flag). `extra_args`
    that set a mode are the spec saying otherwise."""
    if opts.permission_mode:
        return opts.permission_mode
    if any(arg.split("=", 1)[0] in _MODE_FLAGS for arg in opts.extra_args):
        return None
    return "acceptEdits" if isolated else None


def disallowed_tools(opts: ClaudeCodeOptions) -> set[str]:
    """Tool names that `extra_args` disallow (`--disallowedTools A,B` or `=A,B`, or
    several values after the flag)."""
    out: set[str] = set()
    args = list(opts.extra_args)
    for i, arg in enumerate(args):
        name, eq, value = arg.partition("=")
        if name not in ("--disallowedTools", "--disallowed-tools"):
            continue
        values = [value] if eq else []
        if not eq:
            for more in args[i + 1:]:
                if more.startswith("-"):
                    break
                values.append(more)
        for v in values:
            out.update(t.strip() for t in v.replace(",", " ").split() if t.strip())
    return out


def can_change_files(opts: ClaudeCodeOptions, isolated: bool) -> bool:
    """Whether some tool that changes files may run without asking (a headless CLI
    cannot ask: what needs a yes is refused). `Bash(npm test:*)` counts as Bash: the
    check stays silent when unsure."""
    mode = permission_mode_of(opts, isolated)
    if mode == "plan":
        return False
    usable = {t.split("(", 1)[0].strip() for t in opts.allowed_tools}
    if mode in ("bypassPermissions", "auto"):
        usable |= set(FILE_TOOLS)
    elif mode == "acceptEdits":
        usable |= set(EDIT_TOOLS)
    banned = {t for t in disallowed_tools(opts) if "(" not in t}  # Bash(rm:*) bans a part
    return bool(usable & set(FILE_TOOLS) - banned)
