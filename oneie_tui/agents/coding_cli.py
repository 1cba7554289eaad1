"""What every headless coding-agent CLI backend shares (Codex, Gemini; see `codex.py`,
`gemini.py`): finding the executable, the prompt that teaches `oneie emit`, one process group
in the agent's folder (pause stops it, cancel ends it), the stderr tail, sessions that an
interrupted agent resumes, usage priced from the price table, and the auth preflight.

A CLI module fills in its argv, its environment and configuration, its output parser (a
`CliStream` turning the CLI's JSON lines into oneie events), its resume flag and its auth
check; the run itself is `CodingCliBackend.run`.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import anyio

from oneie_tui.agents.base import (
    AgentBackend,
    AgentContext,
    AgentFailure,
    AgentResult,
    BackendOptions,
    project_dir,
)
from oneie_tui.agents.pricing import PriceTable
from oneie_tui.agents.process import StderrTail, describe_exit, process_env, resolve_cwd, run_group
from oneie_tui.agents.procgroup import ProcessGroup
from oneie_tui.events import EventType, Usage
from oneie_tui.spec.shared_context import render_agent_brief
from oneie_tui.trust import json_bounds, numbers

if TYPE_CHECKING:
    from oneie_tui.spec.model import AgentSpec, Spec
    from oneie_tui.spec.options.coding_cli import CliOptions

MAX_JSON_LINE = 64 << 20  # a tool result can be large; a line is one JSON object
SHORT = 160


class CliMissing(AgentFailure):
    pass


def find_cli(
    name: str, configured: str | None, hint: str, project: Path | None = None, title: str = ""
) -> str:
    """The executable: the configured path, `name` on PATH, or ./node_modules/.bin/`name`
    of the project (or of the current folder). `title` names it in messages."""
    title = title or f"the {name} CLI"
    if configured:
        path = Path(configured).expanduser()
        if not path.is_absolute() and project is not None:
            path = project / path
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
        raise CliMissing(f"{title} was not found at {configured}: {hint}")
    found = shutil.which(name)
    if found:
        return found
    for folder in dict.fromkeys([project or Path.cwd(), Path.cwd()]):
        local = folder / "node_modules" / ".bin" / name
        if local.is_file() and os.access(local, os.X_OK):
            return str(local)
    raise CliMissing(f"{title} is not on PATH or in ./node_modules/.bin: {hint}")


def build_prompt(
    ctx: AgentContext, role: str = "", resuming: bool = False, shell_tool: str = "shell tool"
) -> str:
    """The first prompt: the shared spec context, the agent's brief, and how to signal the
    other agents with `oneie emit` from the CLI's shell tool. A resumed session gets a
    short nudge instead (it already has the rest)."""
    agent = ctx.agent
    if resuming:
        return (
            "You were interrupted. Continue your task from where you stopped. "
            + (f"Emit any of {', '.join(agent.emits)} that you have not emitted yet. " if agent.emits else "")
            + "Use `oneie emit EVENT_NAME` as before."
        )
    signal_lines = [
        "## Signalling the other agents",
        "Several agents work on this feature at the same time; some wait for events you emit.",
        f"The moment one of your events becomes true, run this shell command with your {shell_tool}:",
        "    oneie emit EVENT_NAME",
        "(add facts with --json '{\"key\": \"value\"}'). Report progress with",
        '    oneie progress PERCENT "short note"',
    ]
    if agent.emits:
        signal_lines.append("Your events: " + ", ".join(agent.emits) + ".")
    if ctx.workdir:
        signal_lines.append(f"Work inside the current folder ({ctx.workdir}); it is yours alone.")
    return "\n\n".join(
        [ctx.shared_context.strip(), render_agent_brief(agent, role), "\n".join(signal_lines)]
    )


def isolated(ctx: AgentContext) -> bool:
    """The agent works in a git worktree of its own (`isolation = "worktree"`)."""
    return (ctx.agent.isolation or ctx.spec.run.isolation) == "worktree"


def clip(text: str, limit: int = SHORT) -> str:
    """One line, at most `limit` characters."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def count(value: Any) -> int:
    """A token count from a CLI: a whole number in range, anything else (missing, negative,
    absurd) counts nothing."""
    try:
        return numbers.count(value, "tokens")
    except ValueError:
        return 0


@dataclass
class CliOutcome:
    """How the CLI's session ended, from its own final event."""

    ok: bool
    summary: str = ""
    error: str = ""
    facts: dict[str, Any] = field(default_factory=dict)  # for the agent_info event
    kind: str = "failed"  # how a failure is named: `claude error_max_turns: ...`
    result_facts: dict[str, Any] = field(default_factory=dict)  # for the agent's result


class CliStream:
    """Turns one CLI's JSON lines into the agent's events. A CLI module derives from it and
    fills `on_event`; lines that are not a JSON object go to the panel as they are."""

    def __init__(self, ctx: AgentContext, prices: PriceTable | None, model: str | None) -> None:
        self.ctx = ctx
        self.prices = prices
        self.model = model or ""
        self.session_id = ""
        self.started = False  # the CLI said its session began (a resume of it can work)
        self.outcome: CliOutcome | None = None
        self.reported = Usage()

    def feed(self, line: str) -> None:
        if not line.strip():
            return
        try:
            obj = json_bounds.loads(line)
        except json.JSONDecodeError:
            self.ctx.output(line)
            return
        except ValueError as exc:  # nested too deep or NaN: shown, never fatal
            self.ctx.output(f"{clip(line, 200)}  [ignored: {exc}]", "stderr")
            return
        if not isinstance(obj, dict):
            self.ctx.output(line)
            return
        self.on_event(obj)

    def on_event(self, obj: dict[str, Any]) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        """The process ended: last figures, if the CLI gives them only at the end."""

    # --- helpers for the CLI modules

    def begin(self, session_id: str, **facts: Any) -> None:
        self.started = True
        self.session_id = session_id or self.session_id
        info = {"session_id": self.session_id, **facts}
        self.ctx.event(EventType.AGENT_INFO, **{k: v for k, v in info.items() if v})

    def text(self, text: str) -> None:
        for line in text.splitlines():
            self.ctx.output(line)

    def tool(self, name: str, brief: str, tool_id: str = "") -> None:
        self.ctx.event(EventType.AGENT_TOOL, name=name, input=clip(brief), tool_use_id=tool_id)
        self.ctx.output(f"→ {name}: {clip(brief)}")

    def tool_result(self, text: str, failed: bool = False) -> None:
        first = text.strip().splitlines()[0] if text.strip() else "(no output)"
        self.ctx.output(f"  ⎿ {clip(first)}", "stderr" if failed else "stdout")

    def add_usage(self, usage: Usage, model: str = "") -> None:
        """Record `usage` (new tokens since the last call), priced from the table."""
        if not usage.total_tokens:
            return
        model = model or self.model
        price = self.prices.lookup(model) if self.prices is not None and model else None
        if price is not None:
            usage.cost_usd = price.cost(usage)
        self.reported.add(usage)
        self.ctx.usage(usage, model=model, source="stream")


class CodingCliBackend(AgentBackend):
    """One headless coding-agent CLI. See the module docstring for what a CLI module fills."""

    cli_name: ClassVar[str] = ""  # the executable
    label: ClassVar[str] = ""  # the CLI's name in messages
    title: ClassVar[str] = ""  # what it is, for "not found" (default: "the NAME CLI")
    install_hint: ClassVar[str] = ""
    # The CLI reads its prompt and the user's messages as JSON lines on stdin while it
    # works (`stdin_line`); a message after it ended its turn continues its session.
    stdin_messages: ClassVar[bool] = False

    def __init__(self) -> None:
        self.project = Path.cwd()
        self.options = BackendOptions()
        # agent id -> session id of an attempt that did not finish: the next one resumes it.
        self.sessions: dict[str, str] = {}
        # agent id -> the session of its last finished attempt: a follow-up continues it.
        self.finished: dict[str, str] = {}
        self.prices: PriceTable | None = None

    def takes_messages(self, agent: AgentSpec) -> bool:
        return self.stdin_messages

    def why_no_messages(self, agent: AgentSpec) -> str:
        return f"the {self.name} backend does not take messages ({self.label} reads no input while it works)"

    def stdin_line(self, text: str) -> bytes:
        """One user message as the CLI reads it on stdin (CLIs with `stdin_messages`)."""
        raise NotImplementedError

    # --- what a CLI module fills in

    @classmethod
    def options_of(cls, agent: AgentSpec) -> CliOptions:
        raise NotImplementedError

    def argv(
        self, cli: str, ctx: AgentContext, prompt: str, resume_id: str | None, new_session: str | None
    ) -> list[str]:
        """The command line, the spec's `extra_args` included: a fresh session
        (`new_session`: the id chosen up front, for CLIs that take one) or the resumption
        of `resume_id`."""
        raise NotImplementedError

    def prompt_of(self, ctx: AgentContext, resuming: bool) -> str:
        return build_prompt(ctx, resuming=resuming)

    @classmethod
    def locate(cls, agent: AgentSpec, project: Path | None) -> str:
        """The agent's executable (CliMissing when there is none)."""
        return find_cli(cls.cli_name, cls.options_of(agent).cli, cls.install_hint, project, cls.title)

    def environment(self, ctx: AgentContext) -> dict[str, str]:
        """Variables (and configuration files) that point the CLI where the spec says."""
        return {}

    def new_stream(self, ctx: AgentContext) -> CliStream:
        raise NotImplementedError

    def new_session_id(self, ctx: AgentContext) -> str | None:
        """A session id chosen before the start, for CLIs that take one (else None)."""
        return None

    @classmethod
    def check_auth(cls, agent: AgentSpec, where: str) -> None:
        """Refuse (ValueError, one line saying how to log in) when the CLI cannot
        authenticate; never spends tokens."""

    # --- shared

    @classmethod
    def agents_of(cls, spec: Spec) -> list[tuple[int, AgentSpec]]:
        return [(i, a) for i, a in enumerate(spec.agents) if spec.backend_of(a) == cls.name]

    @classmethod
    def preflight(cls, spec: Spec, options: BackendOptions) -> None:
        """Before anything is created: the CLI is there and can authenticate."""
        project = project_dir(options)
        for i, agent in cls.agents_of(spec):
            where = f"agents[{i}] ({agent.id})"
            try:
                cls.locate(agent, project)
            except CliMissing as exc:
                raise ValueError(f"{where}: {exc}") from None
            cls.check_auth(agent, where)

    def configure(self, spec: Spec, options: BackendOptions) -> None:
        self.options = options
        self.project = project_dir(options)
        self.sessions.update(options.resume_sessions)
        self.finished.update(options.finished_sessions)  # follow-ups after `oneie resume`
        try:
            from oneie_tui.agents.pricing import load_prices

            self.prices = load_prices()
        except Exception:  # no prices: usage is recorded without a cost
            self.prices = None

    def forget_session(self, agent_id: str) -> None:
        self.sessions.pop(agent_id, None)

    async def run(self, ctx: AgentContext) -> AgentResult:
        resume_id = self.sessions.get(ctx.agent_id) if self.options_of(ctx.agent).resume else None
        if ctx.followup:  # "continue with this": in the session of its last attempt
            resume_id = resume_id or self.finished.get(ctx.agent_id)
        if ctx.followup and resume_id:
            prompt = ctx.followup
        else:
            prompt = self.prompt_of(ctx, resuming=bool(resume_id))
            if ctx.followup:  # no session to go on with: a fresh one, told what was said
                prompt += f"\n\nThe user adds:\n{ctx.followup}"
        result = await self._session(ctx, prompt, resume_id)
        # Messages that came after the CLI closed its input: its session goes on with them.
        while self.stdin_messages and ctx.has_messages:
            session = str(result.metadata.get("session_id") or "") or None
            result = await self._session(ctx, "\n\n".join(ctx.take_messages()), session)
        return result

    async def _session(self, ctx: AgentContext, prompt: str, resume_id: str | None) -> AgentResult:
        """One CLI process: a new session, or `resume_id` continued with `prompt`."""
        opts = self.options_of(ctx.agent)
        cli = self.locate(ctx.agent, self.project)
        cwd = resolve_cwd(ctx, None)
        new_session = None if resume_id else self.new_session_id(ctx)
        argv = self.argv(cli, ctx, prompt, resume_id, new_session)
        env = process_env(ctx, {**self.environment(ctx), **opts.env})
        stream = self.new_stream(ctx)
        stderr = StderrTail(ctx)
        if new_session:  # chosen up front: resumable even if cut off in its first second
            stream.session_id = new_session
            self.sessions[ctx.agent_id] = new_session

        feed = InputFeed(ctx, self.stdin_line, prompt) if self.stdin_messages else None

        def on_stdout(line: str) -> None:
            ended = stream.outcome
            stream.feed(line)
            if stream.session_id and self.sessions.get(ctx.agent_id) != stream.session_id:
                self.sessions[ctx.agent_id] = stream.session_id
            if feed is not None and stream.outcome is not ended:
                feed.turn_ended()

        def on_start(group: ProcessGroup) -> None:
            info: dict[str, Any] = {"pid": group.pid, "cwd": str(cwd), "cli": cli, **group.clock_info()}
            if resume_id:
                info["resumed_session"] = resume_id
            ctx.event(EventType.AGENT_INFO, **info)

        code = await run_group(
            ctx, argv, cwd=cwd, env=env, on_stdout=on_stdout, on_stderr=stderr,
            grace=opts.grace_seconds, max_line=MAX_JSON_LINE, on_start=on_start,
            feed=feed.run if feed is not None else None,
        )
        stream.finish()
        outcome = stream.outcome
        if outcome is None:
            raise AgentFailure(f"{self.label} ended without a result ({describe_exit(code)}){stderr.detail()}")
        ok = outcome.ok and code == 0
        ctx.event(
            EventType.AGENT_INFO,
            session_id=stream.session_id, session_done=ok, exit_code=code, **outcome.facts,
        )
        if not ok:
            reason = outcome.error or outcome.summary or stderr.last or describe_exit(code)
            if resume_id and not stream.started:
                # The session could not be resumed (it is gone): forget it, so a restart
                # begins afresh instead of failing the same way for ever.
                self.sessions.pop(ctx.agent_id, None)
                reason += "; restart the agent to begin a new session"
            raise AgentFailure(f"{self.label} {outcome.kind}: {clip(reason, 300)}")
        self.sessions.pop(ctx.agent_id, None)
        if stream.session_id:
            self.finished[ctx.agent_id] = stream.session_id
        return AgentResult(
            summary=clip(outcome.summary, 300),
            metadata={"session_id": stream.session_id, **outcome.result_facts},
        )


class InputFeed:
    """The CLI's stdin while it works: the prompt, then each message the user sends, as
    they arrive (the CLI takes them into its current turn). At the end of a turn with no
    message waiting, stdin is closed so the CLI ends; what arrives later stays in the
    agent's inbox, and `run` continues the session with it."""

    def __init__(self, ctx: AgentContext, line: Callable[[str], bytes], prompt: str) -> None:
        self.ctx = ctx
        self.line = line
        self.prompt = prompt
        self.ended = False
        self._wake: anyio.Event | None = None

    def turn_ended(self) -> None:
        self.ended = True
        self._poke()

    def _poke(self) -> None:
        if self._wake is not None:
            self._wake.set()

    async def run(self, group: ProcessGroup) -> None:
        stdin = group.stdin
        assert stdin is not None
        self.ctx.on_message.append(self._poke)
        try:
            await stdin.send(self.line(self.prompt))
            while True:
                self._wake = anyio.Event()
                if self.ctx.has_messages:
                    taken = self.ctx.take_messages()
                    for i, text in enumerate(taken):
                        try:
                            await stdin.send(self.line(text))
                        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                            self.ctx.put_back(taken[i:])  # for the session's continuation
                            raise
                    self.ended = False  # the CLI has more to do
                    continue
                if self.ended:
                    break
                await self._wake.wait()
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            pass  # the CLI is gone; run() continues its session with what is left
        finally:
            self.ctx.on_message.remove(self._poke)
            with anyio.CancelScope(shield=True):
                await stdin.aclose()
