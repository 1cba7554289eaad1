"""The `command` backend: any program as an agent, plus what every process backend shares.

The command is an argv list run without a shell, in its own process group (`procgroup`).
Its stdout and stderr lines stream to the agent's panel; stdout lines in the line protocol
(`lineproto`) become events instead; any child can also run `oneie emit` / `oneie progress`
(`control`). Pause stops the whole group, cancel ends it, and the exit code decides success.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
from collections.abc import Callable, Coroutine, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
from anyio.abc import ByteReceiveStream

from oneie_tui.agents.base import (
    AgentBackend,
    AgentContext,
    AgentFailure,
    AgentResult,
    BackendOptions,
    Usage,
    project_dir,
)
from oneie_tui.agents.lineproto import (
    EmitDirective,
    Invalid,
    ProgressDirective,
    UsageDirective,
    parse_line,
)
from oneie_tui.agents.procgroup import ProcessGroup
from oneie_tui.events import EventType
from oneie_tui.trust.pathguard import PathEscape, confine
from oneie_tui.trust.redact import redact
from oneie_tui.trust.store_url import secrets_of

if TYPE_CHECKING:
    from oneie_tui.spec.model import AgentSpec, Spec

MAX_LINE = 1 << 20  # longer lines are cut (and marked) so one runaway line cannot eat memory
LEFTOVER_GRACE = 1.0  # children a finished command left behind get this long after SIGTERM
DRAIN_SECONDS = 2.0  # reading what is left in the pipes after the command exits
LineHandler = Callable[[str], None]
# Writes to a started process's stdin beside the pumps (the agent's messages); cancelled
# when the process has ended.
StdinFeed = Callable[["ProcessGroup"], Coroutine[Any, Any, None]]


# --- environment and folders ---------------------------------------------------------


def oneie_bin_dir() -> str | None:
    """The folder holding the `oneie` executable of this installation (the venv's bin)."""
    here = Path(sys.executable).parent
    if (here / "oneie").exists():
        return str(here)
    found = shutil.which("oneie")
    return str(Path(found).parent) if found else None


_BASIC_ENV = ("PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "TERM")


def process_env(ctx: AgentContext, extra: Mapping[str, str], *, inherit: bool = True) -> dict[str, str]:
    """oneie's environment (or a basic one), the spec's variables, then the run's own
    (ONEIE_*: these win, so `oneie emit` always reaches this run), with `oneie` on PATH."""
    env = dict(os.environ) if inherit else {k: os.environ[k] for k in _BASIC_ENV if k in os.environ}
    if secrets_of(env.get("ONEIE_STORE", "")):
        del env["ONEIE_STORE"]  # a store URL with a password is not the agents' to read
    env.update(extra)
    env.update(ctx.env)
    env.setdefault("PYTHONUNBUFFERED", "1")  # Python children: lines arrive as printed
    bin_dir = oneie_bin_dir()
    path = env.get("PATH", os.defpath)
    if bin_dir and bin_dir not in path.split(os.pathsep):
        env["PATH"] = bin_dir + os.pathsep + path
    return env


def resolve_cwd(ctx: AgentContext, cwd: str | None) -> Path:
    """The agent's folder (worktree or project), or `cwd` inside it (never outside)."""
    base = Path(ctx.workdir) if ctx.workdir else Path.cwd()
    try:
        path = confine(cwd, base, "command.cwd") if cwd else base
    except PathEscape as exc:
        raise AgentFailure(str(exc)) from None
    if not path.is_dir():
        raise AgentFailure(f"working folder {path} does not exist")
    return path


# --- running one process group ---------------------------------------------------------


async def pump_lines(stream: ByteReceiveStream, handle: LineHandler, max_line: int = MAX_LINE) -> None:
    """Call `handle` with each line of `stream` (decoded, without the newline)."""
    buffer = bytearray()
    skipping = False  # inside a cut line: drop bytes until its newline
    while True:
        try:
            chunk = await stream.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError):
            break
        start = 0
        while True:
            end = chunk.find(b"\n", start)
            piece = chunk[start:] if end < 0 else chunk[start:end]
            if not skipping:
                buffer += piece
                if len(buffer) > max_line:
                    handle(_decode(buffer[:max_line]) + " …[line cut]")
                    buffer.clear()
                    skipping = True  # the rest of this line, up to its newline, is dropped
            if end < 0:
                break
            if not skipping:
                handle(_decode(buffer))
            buffer.clear()
            skipping = False
            start = end + 1
    if buffer and not skipping:
        handle(_decode(buffer))


def _decode(data: bytes | bytearray) -> str:
    return bytes(data).decode("utf-8", errors="replace").rstrip("\r")


async def run_group(
    ctx: AgentContext,
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    on_stdout: LineHandler,
    on_stderr: LineHandler,
    grace: float,
    max_line: int = MAX_LINE,
    on_start: Callable[[ProcessGroup], None] | None = None,
    feed: StdinFeed | None = None,
) -> int:
    """Run `argv` as a process group tied to the agent: pause/resume stop and continue it,
    cancellation ends it (shielded, time-bounded), and nothing it started outlives it.
    With `feed`, its stdin is a pipe that `feed` writes to while it runs (else closed).
    Returns the exit code (negative: the signal that killed it)."""
    group: ProcessGroup | None = None
    want_stopped = False

    # Registered before the start, so a pause that lands while the process is starting
    # still stops it.
    def pause() -> None:
        nonlocal want_stopped
        want_stopped = True
        if group is not None:
            group.stop()

    def resume() -> None:
        nonlocal want_stopped
        want_stopped = False
        if group is not None:
            group.cont()

    ctx.on_pause.append(pause)
    ctx.on_resume.append(resume)
    try:
        await ctx.checkpoint()
        try:
            # Shielded: a cancel landing mid-spawn must not leave a process we never saw.
            with anyio.CancelScope(shield=True):
                started = await ProcessGroup.start(argv, cwd=cwd, env=env, stdin=feed is not None)
        except FileNotFoundError:
            raise AgentFailure(f"command not found: {argv[0]}") from None
        except PermissionError:
            raise AgentFailure(f"cannot run {argv[0]}: permission denied") from None
        except OSError as exc:
            raise AgentFailure(f"cannot start {argv[0]}: {exc.strerror or exc}") from None
        group = started
        if want_stopped:
            started.stop()
        if on_start is not None:
            on_start(started)
        async with anyio.create_task_group() as tg:
            started.spawn = tg.start_soon  # pause/resume sweeps for members outside the group
            out_done, err_done = anyio.Event(), anyio.Event()

            async def pump(stream: ByteReceiveStream, handle: LineHandler, done: anyio.Event) -> None:
                try:
                    await pump_lines(stream, handle, max_line)
                finally:
                    done.set()

            # A process may print a key from its environment: mask it before it is an event.
            tg.start_soon(pump, started.stdout, lambda line: on_stdout(redact(line)), out_done)
            tg.start_soon(pump, started.stderr, lambda line: on_stderr(redact(line)), err_done)
            if feed is not None:
                tg.start_soon(feed, started)
            code = await started.wait()
            # The end of the agent's active time (its clock: metrics), before the draining
            # and cleaning up that follow.
            ctx.event(EventType.AGENT_INFO, process_exited=True, exit_code=code)
            # What a finished command left running is an orphan: end it, which also
            # closes the pipes it held, so reading can finish.
            await started.terminate(LEFTOVER_GRACE)
            with anyio.move_on_after(DRAIN_SECONDS):
                await out_done.wait()
                await err_done.wait()
            tg.cancel_scope.cancel()
        return code
    finally:
        ctx.on_pause.remove(pause)
        ctx.on_resume.remove(resume)
        if group is not None:
            group.spawn = None  # its task group is closed
            await group.shutdown(grace)


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


# --- the command backend ---------------------------------------------------------------


def apply_line(ctx: AgentContext, line: str, protocol: bool = True) -> None:
    """One stdout line: a protocol directive becomes an event, anything else is output."""
    directive = parse_line(line) if protocol else None
    if directive is None:
        ctx.output(line)
    elif isinstance(directive, EmitDirective):
        ctx.emit(directive.action, directive.metadata)
    elif isinstance(directive, ProgressDirective):
        ctx.progress(directive.percent, directive.note)
    elif isinstance(directive, UsageDirective):
        t = directive.tokens
        ctx.usage(
            Usage(
                input_tokens=t["input_tokens"],
                output_tokens=t["output_tokens"],
                cache_write_tokens=t["cache_write_tokens"],
                cache_read_tokens=t["cache_read_tokens"],
                cost_usd=directive.cost_usd,
            )
        )
    elif isinstance(directive, Invalid):
        ctx.output(f"{directive.line}  [ignored: {directive.reason}]", "stderr")


def message_line(text: str) -> bytes:
    """A message as one line on a command's stdin: its own newlines become spaces."""
    return (" ".join(text.splitlines()) + "\n").encode()


def stdin_feed(ctx: AgentContext, first: Sequence[str] = ()) -> StdinFeed:
    """Write `first` and then every message the agent gets to the process's stdin, one
    line each, as they arrive."""

    async def feed(group: ProcessGroup) -> None:
        stdin = group.stdin
        assert stdin is not None
        pending = list(first)
        try:
            while True:
                for text in pending:
                    await stdin.send(message_line(text))
                await ctx.wait_message()
                pending = ctx.take_messages()
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            ctx.output("[message not delivered: the command closed its stdin]", "stderr")

    return feed


class StderrTail:
    """A process's stderr handler: each line goes to the panel, and the last non-blank one
    is kept to explain a failure."""

    def __init__(self, ctx: AgentContext) -> None:
        self.ctx = ctx
        self.last = ""

    def __call__(self, line: str) -> None:
        self.ctx.output(line, "stderr")
        if line.strip():
            self.last = line.strip()

    def detail(self) -> str:
        """`: <last line>` (cut at 200 characters) for a failure message, or nothing."""
        return f": {self.last[:200]}" if self.last else ""


class CommandBackend(AgentBackend):
    name = "command"

    def takes_messages(self, agent: AgentSpec) -> bool:
        return agent.command.stdin

    def why_no_messages(self, agent: AgentSpec) -> str:
        return (
            "this command agent reads no messages: set `stdin = true` in its command table "
            "(command = { argv = [...], stdin = true }) to get each one as a line on its stdin"
        )

    @classmethod
    def preflight(cls, spec: Spec, options: BackendOptions) -> None:
        check_commands(spec, options)

    async def run(self, ctx: AgentContext) -> AgentResult:
        opts = ctx.agent.command
        if not opts.argv:
            raise AgentFailure("no command to run: set command.argv")
        cwd = resolve_cwd(ctx, opts.cwd)
        env = process_env(ctx, opts.env, inherit=opts.inherit_env)
        stderr = StderrTail(ctx)

        def on_stdout(line: str) -> None:
            apply_line(ctx, line, opts.line_protocol)

        def on_start(group: ProcessGroup) -> None:
            ctx.event(EventType.AGENT_INFO, pid=group.pid, cwd=str(cwd), **group.clock_info())

        # A follow-up attempt starts the command again with the message as its first line.
        feed = stdin_feed(ctx, [ctx.followup] if ctx.followup else []) if opts.stdin else None
        code = await run_group(
            ctx,
            opts.argv,
            cwd=cwd,
            env=env,
            on_stdout=on_stdout,
            on_stderr=stderr,
            grace=opts.grace_seconds,
            on_start=on_start,
            feed=feed,
        )
        for text in ctx.take_messages():  # came as it ended: say so, never drop it silently
            ctx.output(f"[message not delivered: the command had ended: {' '.join(text.split())[:200]}]", "stderr")
        if code not in opts.ok_exit_codes:
            raise AgentFailure(f"{Path(opts.argv[0]).name} failed ({describe_exit(code)}){stderr.detail()}")
        return AgentResult(summary=f"{Path(opts.argv[0]).name} exited 0", metadata={"exit_code": code})


def check_commands(spec: Spec, options: BackendOptions) -> None:
    """Refuse before anything starts: a command agent without a command, or a program that
    is not on PATH, or a `cwd` that leaves the project folder."""
    project = project_dir(options)
    for i, agent in enumerate(spec.agents):
        if spec.backend_of(agent) != "command":
            continue
        if agent.command.cwd:
            try:
                confine(agent.command.cwd, project, "command.cwd")
            except PathEscape as exc:
                raise ValueError(f"agents[{i}] ({agent.id}): {exc}") from None
        argv = agent.command.argv
        if not argv:
            raise ValueError(
                f"agents[{i}] ({agent.id}): command.argv is empty; give the program and its "
                'arguments, e.g. command = { argv = ["python", "-m", "pytest", "-q"] }'
            )
        program = argv[0]
        if os.sep not in program:
            path = agent.command.env.get("PATH", os.environ.get("PATH", os.defpath))
            if shutil.which(program, path=path) is None:
                raise ValueError(f"agents[{i}] ({agent.id}): command {program!r} was not found on PATH")
