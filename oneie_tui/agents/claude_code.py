"""The `claude-code` backend: each agent is a real Claude Code CLI process.

It runs `claude -p PROMPT --output-format stream-json --verbose` (plus model, max turns,
allowed tools and permission mode from the spec) in the agent's folder (its worktree when
isolated), as a process group like any `command` agent: pause stops it, cancel ends it.
The prompt is the shared spec context, the agent's brief, and how to signal with
`oneie emit`. The stream-json lines become output, `agent_tool` events, `usage` events and
an `agent_info` event with the session id, so an interrupted agent continues (`--resume`).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from oneie_tui.agents import coding_cli
from oneie_tui.agents.attention import asks_question, is_denial
from oneie_tui.agents.base import AgentContext, BackendOptions, Usage, project_dir
from oneie_tui.agents.coding_cli import CliMissing, CliOutcome, CliStream, CodingCliBackend, count
from oneie_tui.agents.profiles import Profile, ProfileError, load_agent_profiles
from oneie_tui.events import EventType
from oneie_tui.spec.options.claude_code import permission_mode_of
from oneie_tui.trust import json_bounds, numbers

if TYPE_CHECKING:
    from oneie_tui.spec.model import AgentSpec, Spec
    from oneie_tui.spec.options.claude_code import ClaudeCodeOptions

TITLE = "the Claude Code CLI (claude)"
INSTALL_HINT = (
    "install it with `npm install @anthropic-ai/claude-code` (in the project, or with -g), "
    "or set claude_code.cli to its path"
)
SHORT = 160
SIGNAL_TOOLS = ("Bash(oneie emit:*)", "Bash(oneie progress:*)")
# Offline-friendly defaults for a CLI run by an orchestrator; claude_code.env overrides.
QUIET_ENV = {"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_AUTOUPDATER": "1"}


class ClaudeCodeMissing(CliMissing):
    pass


# Any of these lets the CLI authenticate without a stored login.
AUTH_ENV = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN",
            "CLAUDE_CODE_USE_BEDROCK", "CLAUDE_CODE_USE_VERTEX")
AUTH_STATUS_SECONDS = 20.0
NOT_LOGGED_IN = (
    "claude-code: Claude Code is not logged in: run `claude` and type /login (or `claude auth "
    "login`), or export ANTHROPIC_API_KEY=...; or run on the sim backend (--backend sim)"
)


def _config_dir(env: Mapping[str, str]) -> Path:
    return Path(env.get("CLAUDE_CONFIG_DIR") or Path.home() / ".claude").expanduser()


def login_found(env: Mapping[str, str] | None = None) -> bool:
    """Whether the CLI can authenticate, from what is on disk: a key or token in the
    environment, or the login `claude /login` stores. (macOS keeps that login in the
    Keychain, out of sight: trusted.) The fallback of `can_authenticate`."""
    env = os.environ if env is None else env
    if any(env.get(name, "").strip() for name in AUTH_ENV):
        return True
    if os.uname().sysname == "Darwin":
        return True
    if (_config_dir(env) / ".credentials.json").is_file():
        return True
    try:
        stored = json.loads((Path.home() / ".claude.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(stored, dict) and bool(stored.get("oauthAccount"))


def auth_status(cli: str, env: Mapping[str, str]) -> bool | None:
    """`claude auth status --json` (Claude Code 2.x: reads the stored login, the key helper
    and the environment; no request to the API, no tokens): whether it is logged in, or
    None when this CLI cannot say (an older version, a wrapper, a timeout)."""
    try:
        done = subprocess.run(
            [cli, "auth", "status", "--json"], env=dict(env), stdin=subprocess.DEVNULL,
            capture_output=True, text=True, timeout=AUTH_STATUS_SECONDS, check=False,
        )
        answer = json_bounds.loads(done.stdout) if done.stdout.strip().startswith("{") else None
    except (OSError, ValueError, subprocess.SubprocessError):
        return None
    logged_in = answer.get("loggedIn") if isinstance(answer, dict) else None
    return logged_in if isinstance(logged_in, bool) else None


def can_authenticate(cli: str, extra_env: Mapping[str, str]) -> bool:
    """Before a run: a key in the environment (or the spec's `claude_code.env`) is enough;
    else the CLI's own `auth status` decides, when a stored login may exist; else the
    files. A fresh home (no ~/.claude, no ~/.claude.json) has no login: the CLI is not
    even started, so it writes nothing there."""
    env = {**os.environ, **QUIET_ENV, **extra_env}
    if any(env.get(name, "").strip() for name in AUTH_ENV):
        return True
    stored = _config_dir(env).exists() or (Path.home() / ".claude.json").exists()
    if stored or os.uname().sysname == "Darwin":
        answer = auth_status(cli, env)
        if answer is not None:
            return answer
    return login_found(env)


def find_cli(configured: str | None, project: Path | None = None) -> str:
    """The `claude` executable: the configured path, `claude` on PATH, or the project's
    ./node_modules/.bin/claude."""
    try:
        return coding_cli.find_cli("claude", configured, INSTALL_HINT, project, TITLE)
    except CliMissing as exc:
        raise ClaudeCodeMissing(str(exc)) from None


def load_profiles(spec: Spec, project: Path) -> dict[str, Profile]:
    """The profiles (.claude/agents/NAME.md) of the claude-code agents; ValueError if one
    cannot be used."""
    try:
        return load_agent_profiles(spec, "claude-code", project)
    except ProfileError as exc:
        raise ValueError(str(exc)) from None


def model_of(ctx: AgentContext, profile: Profile | None) -> str | None:
    """The agent's `model`, else its profile's (unless `inherit`), else `[run] model`, else
    the CLI's own default. The CLI understands family aliases (`sonnet`) itself."""
    from_profile = profile.chosen_model if profile else None
    return ctx.agent.model or from_profile or ctx.spec.run.model


def build_prompt(ctx: AgentContext, role: str = "", resuming: bool = False) -> str:
    return coding_cli.build_prompt(ctx, role, resuming, shell_tool="Bash tool")


def build_argv(
    cli: str, ctx: AgentContext, prompt: str, resume_id: str | None, model: str | None = None,
    *, stdin_prompt: bool = False,
) -> list[str]:
    """With `stdin_prompt` the prompt is not in argv: it is the first stream-json user
    message on stdin, and the user's messages follow it there while the CLI works."""
    opts = ctx.agent.claude_code
    if stdin_prompt:
        argv = [cli, "-p", "--input-format", "stream-json", "--output-format", "stream-json", "--verbose"]
    else:
        argv = [cli, "-p", prompt, "--output-format", "stream-json", "--verbose"]
    if model:
        argv += ["--model", model]
    max_turns = opts.max_turns or ctx.agent.budget.max_turns  # the CLI keeps the turn budget
    if max_turns:
        argv += ["--max-turns", str(max_turns)]
    tools = list(dict.fromkeys([*opts.allowed_tools, *SIGNAL_TOOLS]))
    # One comma-separated value: the option is variadic and would swallow what follows.
    argv.append("--allowedTools=" + ",".join(tools))
    mode = permission_mode_of(opts, coding_cli.isolated(ctx))  # acceptEdits in its own worktree
    if mode:
        argv += ["--permission-mode", mode]
    if resume_id:
        argv += ["--resume", resume_id]
    return argv + list(opts.extra_args)


def user_message_line(text: str) -> bytes:
    """One user turn as the CLI reads it with `--input-format stream-json`."""
    message = {"type": "user", "message": {"role": "user", "content": [{"type": "text", "text": text}]}}
    return (json.dumps(message, ensure_ascii=False) + "\n").encode()


def short_input(name: str, data: Any) -> str:
    """One line saying what a tool call does."""
    if isinstance(data, dict):
        for key in ("command", "file_path", "path", "pattern", "url", "description", "prompt"):
            if isinstance(data.get(key), str):
                return _clip(data[key])
        return _clip(json.dumps(data, ensure_ascii=False))
    return _clip(str(data))


def full_input(data: Any, limit: int = 4000) -> str:
    """What a tool call asked for, whole (the command, the path), for a denial's text: the
    zoom shows it all; only an absurd input is cut."""
    if isinstance(data, dict):
        for key in ("command", "file_path", "path", "pattern", "url"):
            if isinstance(data.get(key), str):
                return str(data[key])[:limit]
    return json.dumps(data, ensure_ascii=False, default=str)[:limit]


def _clip(text: str, limit: int = SHORT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _result_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(b.get("text", "")) for b in content if isinstance(b, dict))
    return ""


def usage_of(data: Any) -> Usage:
    """An API usage object (input/output/cache_creation_input/cache_read_input tokens)."""
    if not isinstance(data, dict):
        return Usage()
    return Usage(
        input_tokens=count(data.get("input_tokens")),
        output_tokens=count(data.get("output_tokens")),
        cache_write_tokens=count(data.get("cache_creation_input_tokens")),
        cache_read_tokens=count(data.get("cache_read_input_tokens")),
    )


class StreamJson(CliStream):
    """Turns the CLI's stream-json lines into the agent's events."""

    def __init__(self, ctx: AgentContext, prices: Any = None) -> None:
        super().__init__(ctx, prices, None)
        self.result: dict[str, Any] | None = None
        self.result_usage = Usage()  # each `result` (one per user turn) counts its own turn
        self.turns = 0
        self._message_key = ""
        self._message_usage = Usage()
        self._tool_names: dict[str, str] = {}  # tool_use id -> tool name, for denials
        self._denied: set[str] = set()  # tool_use ids already reported as denied
        # The last response: its text and whether it called a tool (a final question).
        self._last_text: list[str] = []
        self._last_called_tool = False

    def on_event(self, obj: dict[str, Any]) -> None:
        kind = obj.get("type")
        if kind == "system" and obj.get("subtype") == "init":
            self._init(obj)
        elif kind == "assistant":
            self._assistant(obj)
        elif kind == "user":
            self._user(obj)
        elif kind == "result":
            self._result(obj)
        # Other kinds (hook events, partial messages, status) carry nothing we show.

    @property
    def initialized(self) -> bool:
        """The CLI printed system/init: the session really began."""
        return self.started

    def _init(self, obj: dict[str, Any]) -> None:
        self.begin(
            str(obj.get("session_id", "")),
            model=obj.get("model"),
            claude_code_version=obj.get("claude_code_version"),
            permission_mode=obj.get("permissionMode"),
        )

    def _result(self, result: dict[str, Any]) -> None:
        self.result = result
        self.result_usage.add(usage_of(result.get("usage")))
        self.session_id = str(result.get("session_id") or self.session_id)
        subtype = str(result.get("subtype", ""))
        summary = str(result.get("result", ""))
        errors = result.get("errors")
        first_error = str(errors[0]) if isinstance(errors, list) and errors else ""
        self.outcome = CliOutcome(
            ok=subtype == "success" and not result.get("is_error"),
            summary=summary,
            error=summary or first_error,
            facts={
                "status": subtype or ("error" if result.get("is_error") else "success"),
                "num_turns": result.get("num_turns"),
                "duration_ms": result.get("duration_ms"),
                "total_cost_usd": result.get("total_cost_usd"),
            },
            # A result can say "success" and still be an error (is_error): never print that.
            kind=subtype if subtype and subtype != "success" else "failed",
            result_facts={"num_turns": result.get("num_turns")},
        )
        self._denials(result.get("permission_denials"))
        if self.outcome.ok and not self._last_called_tool:
            final = "\n".join(self._last_text).strip() or summary.strip()
            if asks_question(final):
                self.ctx.attention("question", text=final)

    def _denials(self, denials: Any) -> None:
        """The result's `permission_denials` ([{tool_name, tool_use_id, tool_input}]):
        one `agent_attention` for the calls no tool result already reported."""
        if not isinstance(denials, list):
            return
        fresh = [d for d in denials if isinstance(d, dict) and str(d.get("tool_use_id", "")) not in self._denied]
        if not fresh:
            return
        tools = [str(d.get("tool_name", "?")) for d in fresh]
        lines = [f"{tool}: {full_input(d.get('tool_input'))}" for tool, d in zip(tools, fresh, strict=True)]
        self._denied.update(str(d.get("tool_use_id", "")) for d in fresh)
        text = "Claude Code refused these tool calls (permission_denials):\n" + "\n".join(lines)
        self.ctx.attention("permission_denied", text=text, tools=tools)

    def _assistant(self, obj: dict[str, Any]) -> None:
        message = obj.get("message")
        if not isinstance(message, dict):
            return
        if str(message.get("id", "")) != self._message_key or not self._message_key:
            self._last_text, self._last_called_tool = [], False  # a new response
        for block in message.get("content") or []:
            if not isinstance(block, dict):
                continue
            if block.get("type") == "text" and block.get("text"):
                self._last_text.append(str(block["text"]))
                for text_line in str(block["text"]).splitlines():
                    self.ctx.output(text_line)
            elif block.get("type") == "tool_use":
                name = str(block.get("name", "?"))
                brief = short_input(name, block.get("input"))
                self._last_called_tool = True
                if len(self._tool_names) < 10_000:
                    self._tool_names[str(block.get("id", ""))] = name
                self.ctx.event(EventType.AGENT_TOOL, name=name, input=brief, tool_use_id=str(block.get("id", "")))
                self.ctx.output(f"→ {name}: {brief}")
        self._count(message)

    def _count(self, message: dict[str, Any]) -> None:
        """Live usage. The CLI prints one line per content block of a response, each with
        the same usage; count a response once, plus any growth of its figures."""
        usage = usage_of(message.get("usage"))
        key = str(message.get("id", ""))
        if key and key == self._message_key:
            delta = usage.growth_since(self._message_usage)
        else:
            self.turns += 1
            delta = usage
        self._message_key = key
        self._message_usage = usage
        if not delta.total_tokens:
            return
        price = self.prices.lookup(str(message.get("model", ""))) if self.prices is not None else None
        if price is not None:
            delta.cost_usd = price.cost(delta)
        self.reported.add(delta)
        self.ctx.usage(delta, model=str(message.get("model", "")), source="stream")

    def _user(self, obj: dict[str, Any]) -> None:
        self._message_key = ""  # a new response follows, even if the id repeats
        message = obj.get("message")
        if not isinstance(message, dict) or not isinstance(message.get("content"), list):
            return
        for block in message["content"]:
            if isinstance(block, dict) and block.get("type") == "tool_result":
                text = _result_text(block.get("content")).strip()
                first = text.splitlines()[0] if text else "(no output)"
                self.ctx.output(f"  ⎿ {_clip(first)}", "stderr" if block.get("is_error") else "stdout")
                if block.get("is_error") and is_denial(text):
                    self._denied_result(str(block.get("tool_use_id", "")), text)

    def _denied_result(self, tool_use_id: str, text: str) -> None:
        """A tool result saying the call was refused: attention at once, in full (the
        panel shows its first line cut; the zoom shows this text)."""
        if tool_use_id and tool_use_id in self._denied:
            return
        self._denied.add(tool_use_id)
        tool = self._tool_names.get(tool_use_id, "?")
        self.ctx.attention("permission_denied", text=text, tools=[tool])

    def finish(self) -> None:
        """Make the recorded totals equal the CLI's own: the final `result` is the truth."""
        if self.result is None:
            return
        total = Usage()
        total.add(self.result_usage)
        try:
            total.cost_usd = numbers.cost(self.result.get("total_cost_usd"), "total_cost_usd")
        except ValueError:  # absent, NaN, negative: keep the figures counted live
            total.cost_usd = self.reported.cost_usd
        delta = Usage(
            total.input_tokens - self.reported.input_tokens,
            total.output_tokens - self.reported.output_tokens,
            total.cache_write_tokens - self.reported.cache_write_tokens,
            total.cache_read_tokens - self.reported.cache_read_tokens,
            total.cost_usd - self.reported.cost_usd,
        )
        counts = (delta.input_tokens, delta.output_tokens, delta.cache_write_tokens, delta.cache_read_tokens)
        if any(counts) or abs(delta.cost_usd) > 1e-12:
            self.reported.add(delta)
            self.ctx.usage(delta, source="result", final=True)


class ClaudeCodeBackend(CodingCliBackend):
    name = "claude-code"
    cli_name = "claude"
    label = "claude"
    title = TITLE
    install_hint = INSTALL_HINT
    stdin_messages = True  # the session stays open on stdin: messages reach it mid-turn

    def __init__(self) -> None:
        super().__init__()
        self.profiles: dict[str, Profile] = {}

    @classmethod
    def options_of(cls, agent: AgentSpec) -> ClaudeCodeOptions:
        return agent.claude_code

    @classmethod
    def locate(cls, agent: AgentSpec, project: Path | None) -> str:
        return find_cli(agent.claude_code.cli, project)

    @classmethod
    def preflight(cls, spec: Spec, options: BackendOptions) -> None:
        check_cli(spec, options)

    def configure(self, spec: Spec, options: BackendOptions) -> None:
        super().configure(spec, options)
        self.profiles = load_profiles(spec, self.project)

    def prompt_of(self, ctx: AgentContext, resuming: bool) -> str:
        profile = self.profiles.get(ctx.agent_id)
        return build_prompt(ctx, profile.prompt if profile else "", resuming=resuming)

    def argv(
        self, cli: str, ctx: AgentContext, prompt: str, resume_id: str | None, new_session: str | None
    ) -> list[str]:
        return build_argv(
            cli, ctx, prompt, resume_id, model_of(ctx, self.profiles.get(ctx.agent_id)), stdin_prompt=True
        )

    def stdin_line(self, text: str) -> bytes:
        return user_message_line(text)

    def environment(self, ctx: AgentContext) -> dict[str, str]:
        env = {k: v for k, v in QUIET_ENV.items() if k not in os.environ}
        url = ctx.agent.claude_code.base_url or self.options.base_url
        if url:
            env["ANTHROPIC_BASE_URL"] = url.rstrip("/")
        return env

    def new_stream(self, ctx: AgentContext) -> CliStream:
        return StreamJson(ctx, self.prices)


def check_cli(spec: Spec, options: BackendOptions) -> None:
    """Refuse before anything starts (no worktree, no branch yet): no CLI, a permission
    mode root cannot use, or no way to authenticate."""
    project = project_dir(options)
    load_profiles(spec, project)
    checked: dict[tuple[str, tuple[tuple[str, str], ...]], bool] = {}
    for i, agent in enumerate(spec.agents):
        if spec.backend_of(agent) != "claude-code":
            continue
        opts = agent.claude_code
        cli = find_cli(opts.cli, project)
        if opts.permission_mode == "bypassPermissions" and hasattr(os, "geteuid") and os.geteuid() == 0:
            raise ValueError(
                f"agents[{i}] ({agent.id}): Claude Code refuses permission_mode = "
                '"bypassPermissions" when run as root; list the tools instead, e.g. '
                'claude_code = { allowed_tools = ["Bash", "Edit", "Write"] }'
            )
        key = (cli, tuple(sorted(opts.env.items())))
        if key not in checked:  # one `auth status` per CLI and environment, not per agent
            checked[key] = can_authenticate(cli, opts.env)
        if not checked[key]:
            raise ValueError(NOT_LOGGED_IN)
