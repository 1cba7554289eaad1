"""Headless runs: live rich progress (a bar per agent, a line per coordination event) or
NDJSON events, a summary, and the exit code. No Textual here."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import sys
import time
from typing import IO, Any, cast

import anyio
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from oneie_tui.agents.pricing import CacheSavings
from oneie_tui.engine import exit_deadline
from oneie_tui.engine.exit_deadline import STOP_SIGNALS
from oneie_tui.engine.runner import Runner, RunnerError
from oneie_tui.events import STREAM_TYPES, Event, EventType, awaited, status_after, total_tokens
from oneie_tui.notify.notifier import POLL_EVERY_S, Notifier
from oneie_tui.trust.display import display, safe_text
from oneie_tui.trust.numbers import finite_or, json_safe

EXIT_OK, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 130

STATUS_STYLE = {
    "queued": "dim",
    "waiting": "yellow",
    "running": "cyan",
    "paused": "magenta",
    "completed": "green",
    "failed": "red",
    "cancelled": "bright_black",
    "blocked": "red",
}


class SafeStream:
    """stdout that a reader leaving (`| head`) or a full disk (`> /dev/full`, a full CI log
    volume) silences instead of failing: the run goes on, is recorded in the store, and
    one line on stderr says the output was lost."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self.lost: str | None = None
        self.encoding: str = getattr(stream, "encoding", None) or "utf-8"

    def write(self, text: str) -> int:
        if self.lost is None:
            try:
                self._stream.write(text)
            except (OSError, ValueError) as exc:  # ValueError: the stream was closed
                self._lose(exc)
        return len(text)

    def flush(self) -> None:
        if self.lost is None:
            try:
                self._stream.flush()
            except (OSError, ValueError) as exc:
                self._lose(exc)

    def isatty(self) -> bool:
        try:
            return self._stream.isatty()
        except (OSError, ValueError):
            return False

    def fileno(self) -> int:
        return self._stream.fileno()

    def _lose(self, exc: BaseException) -> None:
        self.lost = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        if not isinstance(exc, BrokenPipeError):  # a closed pipe is the reader's choice
            with contextlib.suppress(OSError, ValueError):
                sys.stderr.write(f"oneie: output lost ({self.lost}); the run goes on and is recorded\n")
                sys.stderr.flush()
        # What is still buffered would fail again at the interpreter's last flush.
        with contextlib.suppress(OSError, ValueError, io.UnsupportedOperation):
            fd = self._stream.fileno()
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, fd)
            os.close(devnull)


class PipeSafeConsole(Console):
    """A console that goes quiet when its reader leaves (`oneie run ... | head`) instead of
    raising SystemExit from inside the event bus, in the middle of an agent's work."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        try:
            self.file = open(os.devnull, "w")  # lives as long as the console
        except OSError:
            pass


class ProgressSink:
    """One rich progress bar per agent and one printed line per coordination event."""

    def __init__(self, runner: Runner, console: Console) -> None:
        self.console = console
        self.progress = Progress(
            TextColumn("{task.fields[agent]:<22}"),
            TextColumn("{task.fields[status]:<22}"),
            BarColumn(bar_width=30),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self.tasks: dict[str, TaskID] = {}
        width = max((len(a) for a in runner.agents), default=10)
        for agent_id, state in runner.agents.items():
            # A resumed run shows the agents that ended before as they ended, not pending.
            ended = state.terminal
            style = STATUS_STYLE.get(state.status, "dim")
            self.tasks[agent_id] = self.progress.add_task(
                agent_id,
                total=100,
                completed=100 if state.status == "completed" else round(state.progress),
                agent=agent_id.ljust(width),
                status=f"[{style}]{state.status}[/]" if ended else "[dim]pending[/]",
                start=False,
            )

    def __call__(self, e: Event) -> None:
        task = self.tasks.get(e.actor)
        # Agent text is data here: shown through `display`, in Text objects, never markup.
        if e.type == EventType.RUN_STARTED and e.metadata.get("limit_note"):
            self.console.print(Text(f"  note: {display(e.metadata['limit_note'])}; the rest queue", style="yellow"))
        if e.type == EventType.AGENT_PROGRESS and task is not None:
            self.progress.update(task, completed=finite_or(e.metadata.get("percent"), 0.0))
        elif task is not None and (status := status_after(e)) is not None:
            label: str = status
            if status == "waiting":
                label = "waiting for " + ", ".join(awaited(e.metadata))
            style = STATUS_STYLE.get(status, "")
            self.progress.update(task, status=f"[{style}]{escape(display(label[:22]))}[/]")
            if status == "running":
                self.progress.start_task(task)
            if status in ("completed", "failed", "cancelled", "blocked"):
                self.progress.stop_task(task)
                if status == "completed":
                    self.progress.update(task, completed=100)
                if e.metadata.get("reason"):
                    self.console.print(Text.assemble(
                        "  ", safe_text(f"{e.actor} {status}", style), ": ", safe_text(e.metadata["reason"])
                    ), highlight=False)
        elif e.type == EventType.TASK_EVENT:
            self.console.print(Text.assemble(
                "  ", safe_text(f"⚡ {e.actor}", "bold"), " → ", safe_text(e.action, "cyan")
            ), highlight=False)
        elif e.type in (EventType.RETRY, EventType.BUDGET_EXCEEDED):
            self.console.print(Text.assemble(
                "  ", safe_text(f"{e.actor} {e.type}", "yellow"), ": ", safe_text(e.metadata)
            ), highlight=False)
        elif e.type == EventType.AGENT_MESSAGE:  # `oneie send` from another terminal
            said = " ".join(str(e.metadata.get("text", "")).split())[:200]
            how = "follow-up" if e.metadata.get("delivery") == "followup" else "message"
            self.console.print(Text.assemble(
                "  ", safe_text(f"✉ {e.actor}", "bold"), f" ← {how}: ", safe_text(said)
            ), highlight=False)


class JsonSink:
    """One NDJSON line per event. A closed pipe (`| head`) silences it; the run goes on
    and is still recorded, rather than every agent failing on a write."""

    FLUSH_EVERY = 0.1  # seconds: a CI log sees output lines live, without a flush per line

    def __init__(self, stream: IO[str]) -> None:
        self.stream: IO[str] | None = stream
        self._flushed = time.monotonic()

    def __call__(self, e: Event) -> None:
        if self.stream is None:
            return
        try:
            self.stream.write(e.to_json() + "\n")
            now = time.monotonic()
            # Lifecycle and coordination events go out at once; output in 0.1 s batches.
            if e.type not in STREAM_TYPES or now - self._flushed >= self.FLUSH_EVERY:
                self.stream.flush()
                self._flushed = now
        except (OSError, ValueError):  # a closed pipe, a full disk, a closed stream
            self.stream = None


def summary_table(summary: dict[str, Any]) -> Table:
    outcome = str(summary.get("outcome") or summary["status"])
    table = Table(title=safe_text(f"Run {summary['run_id']} — {outcome}"), title_justify="left")
    table.add_column("agent")
    table.add_column("status")
    table.add_column("start", justify="right")
    table.add_column("end", justify="right")
    table.add_column("active", justify="right")
    table.add_column("tokens", justify="right")
    table.add_column("cost", justify="right")
    changes = any(a.get("diff_stat") for a in summary["agents"])  # worktree isolation
    if changes:
        table.add_column("changes")
    conflicts = any(a.get("conflicts") for a in summary["agents"])  # the radar's open findings
    if conflicts:
        table.add_column("conflicts")
    denials = any(a.get("denials") for a in summary["agents"])  # tool calls the CLI refused
    if denials:
        table.add_column("denied", justify="right")
    for a in summary["agents"]:
        style = STATUS_STYLE.get(a["status"], "")
        tokens = total_tokens(a)
        table.add_row(
            safe_text(a["id"]),
            safe_text(a["status"], style),
            _secs(a["started_s"]),
            _secs(a["ended_s"]),
            _secs(a["active_s"]),
            f"{tokens:,}",
            f"${a['cost_usd']:.4f}",
            *([safe_text(a.get("diff_stat", "—"))] if changes else []),
            *([safe_text(", ".join(a.get("conflicts", [])) or "—")] if conflicts else []),
            *([safe_text(str(a.get("denials") or "—"))] if denials else []),
        )
    table.caption = (
        f"sequential {summary['sequential_s']:.2f}s · parallel {summary['wall_s']:.2f}s · "
        + (f"speedup {summary['speedup']:.2f}x · " if outcome.startswith("completed") else "speedup — (not completed) · ")
        + f"utilization {summary['utilization'] * 100:.0f}% · "
        f"critical path {summary['critical_path_s']:.2f}s · cost ${summary['cost_usd']:.4f}"
    )
    return table


def _secs(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}s"


def json_summary(summary: dict[str, Any]) -> dict[str, Any]:
    """The final NDJSON line: the documented shape first, the rest after."""
    return {
        "type": "summary",
        "run_id": summary["run_id"],
        "status": summary["status"],
        "wall_s": summary["wall_s"],
        "sequential_s": summary["sequential_s"],
        "speedup": summary["speedup"],
        "utilization": summary["utilization"],
        "critical_path_s": summary["critical_path_s"],
        "ideal_speedup": summary["ideal_speedup"],
        "critical_path": summary["critical_path"],
        "tokens": {
            k: summary[k]
            for k in ("input_tokens", "output_tokens", "cache_write_tokens", "cache_read_tokens")
        },
        "cost_usd": summary["cost_usd"],
        **({"reason": summary["reason"]} if summary.get("reason") else {}),
        "agents": [
            {
                "id": a["id"],
                "status": a["status"],
                "started_s": a["started_s"],
                "ended_s": a["ended_s"],
                "active_s": a["active_s"],
                **({"reason": a["reason"]} if a["reason"] else {}),
                **({"diff_stat": a["diff_stat"]} if a.get("diff_stat") else {}),
                **({"conflicts": a["conflicts"]} if a.get("conflicts") else {}),
            }
            for a in summary["agents"]
        ],
    }


def exit_code_for(status: str, interrupted: bool) -> int:
    if interrupted:
        return EXIT_INTERRUPTED
    return EXIT_OK if status == "completed" else EXIT_FAILED


def headless_notifier(runner: Runner, *, asked: bool) -> Notifier | None:
    """Notices of a headless run: off unless `--notify` or a `[notify] headless = true`
    (user config or spec). No dashboard here: `notify-send` and the webhook, and the bell
    and OSC only when stderr is a terminal (never into stdout, which may be NDJSON)."""
    from oneie_tui.config import load_config
    from oneie_tui.notify.channels import default_channels
    from oneie_tui.notify.settings import config_table, resolve

    config, _ = load_config()  # the rest of the file is the dashboard's; its problems are its own
    table, problem = config_table(config.notify, config.path)
    settings = resolve(table, runner.spec.notify, headless=True, asked=asked)
    if problem and (settings.on or asked):
        sys.stderr.write(f"oneie: warning: {problem}; that table is left out\n")
    if not settings.on:
        return None
    err = sys.stderr
    write = None
    if err.isatty():
        def write(data: str) -> None:
            err.write(data)
            err.flush()
    notifier = Notifier(settings, default_channels(settings, terminal_write=write, env=os.environ))
    if not notifier.active:
        sys.stderr.write("oneie: notify: no channel to send through (no notify-send, no webhook, no terminal)\n")
        return None
    notifier.attach(runner.bus)
    return notifier


async def _poll_notices(notifier: Notifier) -> None:
    while True:
        await anyio.sleep(POLL_EVERY_S)
        notifier.poll()


async def _run_with_signals(
    runner: Runner,
    state: dict[str, Any],
    agent_ids: list[str] | None = None,
    resume: bool = False,
    notifier: Notifier | None = None,
) -> None:
    async with anyio.create_task_group() as tg:
        if notifier is not None:
            tg.start_soon(_poll_notices, notifier)

        async def watch() -> None:
            with anyio.open_signal_receiver(signal.SIGINT, *STOP_SIGNALS) as signals:
                async for signum in signals:
                    state["interrupted"] = True
                    # Gone within 5 s even if the clean path stalls (a hung-up terminal).
                    exit_deadline.arm(EXIT_INTERRUPTED)
                    name = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
                    # Ctrl-C is the user's cancel; TERM, HUP, QUIT, USR1, USR2 leave a resumable run.
                    runner.cancel_run(f"interrupted ({name})", interrupted=signum != signal.SIGINT)

        tg.start_soon(watch)
        try:
            await runner.run(agent_ids, resume=resume)
        except RunnerError as exc:  # raised here so it is not wrapped in an ExceptionGroup
            state["error"] = str(exc)
        finally:
            tg.cancel_scope.cancel()


def run_headless(
    runner: Runner,
    *,
    as_json: bool,
    out: IO[str] | None = None,
    agent_ids: list[str] | None = None,
    resume: bool = False,
    notify: bool = False,
) -> int:
    """Run to the end, printing progress or NDJSON. Returns the exit code.
    `agent_ids`/`resume`: launch only these agents of a restored run (`oneie resume`).
    `notify`: send notices (`--notify`) even if no `[notify] headless = true` asks."""
    stream = cast(IO[str], SafeStream(out or sys.stdout))
    state: dict[str, Any] = {"interrupted": False, "error": None}
    console = PipeSafeConsole(file=stream if not as_json else sys.stderr, highlight=False)
    sink: ProgressSink | None = None
    if as_json:
        runner.bus.subscribe(JsonSink(stream))
    else:
        sink = ProgressSink(runner, console)
        runner.bus.subscribe(sink)
    # The reference's "token savings": cache figures of this run, from its usage events.
    savings = CacheSavings()
    runner.bus.subscribe(lambda e: savings.add_usage_metadata(e.metadata), EventType.USAGE)
    error: str | None = None
    notifier = headless_notifier(runner, asked=notify)
    try:
        if sink is not None:
            with sink.progress:
                anyio.run(_run_with_signals, runner, state, agent_ids, resume, notifier)
        else:
            anyio.run(_run_with_signals, runner, state, agent_ids, resume, notifier)
    except RunnerError as exc:
        error = str(exc)
    finally:
        exit_deadline.disarm()  # the run ended cleanly (or raised): nothing to force
        if notifier is not None:
            notifier.close()  # the last notice (the finish) on its way, bounded by its timeouts
    error = error or state["error"]
    summary = runner.summary()
    if as_json:
        line = json_summary(summary)
        if savings.cache_write_tokens or savings.cache_read_tokens:
            line["cache"] = savings.to_dict()
        stream.write(json.dumps(json_safe(line), allow_nan=False, default=str) + "\n")  # strict JSON
        stream.flush()
    else:
        console.print(summary_table(summary))
        if savings.cache_write_tokens or savings.cache_read_tokens:
            console.print(f"  {savings.line()}", highlight=False)
    if error:
        sys.stderr.write(f"oneie: error: run {runner.run_id} failed: {error}\n")  # one unwrapped line
        return EXIT_FAILED
    return exit_code_for(summary["status"], state["interrupted"])
