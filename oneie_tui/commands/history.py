"""Run history commands: `runs`, `show`, `export`, `import`, `resume`, `replay`, `history`.

Everything reads or writes the run store; `replay` and `history` open the dashboard app
on the replay / history screen (Textual is imported only there).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import shutil
import sys
from datetime import datetime
from typing import Any

from oneie_tui.commands.common import EXIT_USAGE, add_store_arg, die, guarded, open_app, open_store
from oneie_tui.events import EventType
from oneie_tui.trust.display import safe_text
from oneie_tui.trust.numbers import finite_or, json_safe, option

RUN_STATUSES = ["running", "completed", "failed", "cancelled", "interrupted", "damaged"]


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 1 <= value <= 1_000_000:
        raise argparse.ArgumentTypeError("must be from 1 to 1000000")
    return value


def register(sub: Any) -> None:
    p = sub.add_parser("runs", help="list recorded runs, newest first")
    p.add_argument("--limit", type=_positive_int, default=20, help="at most this many runs (default 20)")
    p.add_argument("--status", choices=RUN_STATUSES, help="only runs with this status")
    p.add_argument("--json", action="store_true", help="one JSON object per run")
    add_store_arg(p)
    p.set_defaults(handler=guarded(cmd_runs))

    p = sub.add_parser("show", help="show one run: its agents, metrics and coordination events")
    p.add_argument("run", help="run id, unique prefix, or 'last'")
    p.add_argument("--json", action="store_true")
    p.add_argument("--gantt", action="store_true", help="draw the run's Gantt picture")
    p.add_argument("--width", type=option("--width", low=20, high=1000, integer=True), default=None, help="width of the Gantt picture (default: the terminal's)")
    add_store_arg(p)
    p.set_defaults(handler=guarded(cmd_show))

    p = sub.add_parser("export", help="export a run: a Markdown report (md) or its raw events (jsonl)")
    p.add_argument("run", help="run id, unique prefix, or 'last'")
    p.add_argument("--format", choices=["jsonl", "md"], default="jsonl")
    p.add_argument("-o", "--output", help="file to write (default: stdout)")
    add_store_arg(p)
    p.set_defaults(handler=guarded(cmd_export))

    p = sub.add_parser("import", help="bring a run exported as jsonl into the store (to replay it)")
    p.add_argument("file", help="a file written by `oneie export --format jsonl` (or `oneie run --json`)")
    p.add_argument("--as", dest="rename", metavar="ID", help="store it under this run id")
    add_store_arg(p)
    p.set_defaults(handler=guarded(cmd_import))

    p = sub.add_parser("resume", help="resume an interrupted run: relaunch only the agents that had not ended")
    p.add_argument("run", help="run id, unique prefix, or 'last'")
    p.add_argument("--json", action="store_true", help="print NDJSON events, then a summary line")
    p.add_argument("--notify", action="store_true", help="notify when the run ends or needs you (notify-send, [notify] webhook)")
    p.add_argument("--base-url", default=None, help="Anthropic API base URL (else $ANTHROPIC_BASE_URL)")
    p.add_argument(
        "--run-imported", action="store_true",
        help="resume a run brought in by `oneie import`: lists every command and folder, then runs them",
    )
    add_store_arg(p)
    p.set_defaults(handler=guarded(cmd_resume))

    p = sub.add_parser("delete", help="delete a recorded run and its events (a damaged one too)")
    p.add_argument("run", help="run id, unique prefix, or 'last'")
    add_store_arg(p)
    p.set_defaults(handler=guarded(cmd_delete))

    p = sub.add_parser("replay", help="replay a recorded run in the dashboard (no agent runs again)")
    p.add_argument("run", help="run id, unique prefix, or 'last'")
    p.add_argument("--speed", choices=["1", "4", "16", "instant"], default="1", help="playback speed")
    p.add_argument("--paused", action="store_true", help="open paused at the start")
    add_store_arg(p)
    p.set_defaults(handler=guarded(cmd_replay))

    p = sub.add_parser("history", help="browse past runs in the dashboard: replay, resume, delete")
    p.add_argument("--read-only", action="store_true", help="browse and watch only: no delete, no resume")
    add_store_arg(p)
    p.set_defaults(handler=guarded(cmd_history))


def _when(ts: float | None) -> str:
    try:
        return "—" if ts is None else datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")
    except (OverflowError, OSError, ValueError):  # a stored time beyond the calendar
        return "—"


def _fixed(value: Any, form: str) -> str:
    """A stored figure for a table cell; absent, text or NaN shows as —."""
    number = finite_or(value, math.nan)
    return "—" if number != number else form.format(number)


def run_record(row: Any) -> dict[str, Any]:
    from oneie_tui.events import total_tokens

    s = row.summary or {}
    return {
        "id": row.id,
        "spec": row.spec_name,
        "spec_path": row.spec_path,
        "status": row.status,
        # what happened, in words (`completed (1 cancelled)`); the status for older runs
        "outcome": s.get("outcome") if s.get("outcome") and s.get("status") == row.status else row.status,
        "started": row.started,
        "ended": row.ended,
        "agents": len(s.get("agents", [])),
        "wall_s": s.get("wall_s"),
        "speedup": s.get("speedup"),
        "tokens": total_tokens(s),
        "cost_usd": s.get("cost_usd", 0.0),
        "imported": bool(getattr(row, "imported", False)),
        **({"damaged": row.damaged} if getattr(row, "damaged", "") else {}),
        "live": row.status == "running",  # being written now, here or on another machine
    }


def cmd_runs(args: argparse.Namespace) -> int:
    store = open_store(args)
    rows = store.list_runs(limit=args.limit, status=args.status)
    if args.json:
        for row in rows:
            print(json.dumps(json_safe(run_record(row)), allow_nan=False))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"runs in {store.path}", title_justify="left", box=None, header_style="bold underline")
    # Ids and statuses never wrap (they are copied and grepped); the spec name gives way.
    # The id starts with the start time (YYYYMMDD-HHMMSS), so it is the "started" column.
    table.add_column("id (started)", no_wrap=True, min_width=22)
    console = Console()
    # What the fixed columns leave (96 cells with gaps) goes to the spec name; the outcome
    # keeps room for `completed with denials (2 denied)`.
    table.add_column("spec", overflow="ellipsis", no_wrap=True, max_width=max(8, console.width - 96))
    table.add_column("outcome", no_wrap=True, min_width=11, max_width=34)
    for col, width in (("agents", 6), ("wall", 6), ("speedup", 7), ("cost", 7)):
        table.add_column(col, justify="right", no_wrap=True, min_width=width)
    for row in rows:
        r = run_record(row)
        table.add_row(  # stored text is data: Text cells, never markup, no control bytes
            safe_text(r["id"]),
            safe_text(r["spec"]),
            safe_text(("● " if r["live"] else "") + str(r["outcome"]) + (" (imported)" if r["imported"] else "")),
            str(r["agents"] or "—"),
            _fixed(r["wall_s"], "{:.2f}s"),
            _fixed(None if not str(r["outcome"]).startswith("completed") else r["speedup"], "{:.2f}x"),
            _fixed(r["cost_usd"], "${:.4f}"),
        )
    if not rows:
        if args.status:
            print(f"no {args.status} runs in {store.path}")
        else:
            print("no runs yet: try `oneie run specs/course-crud.toml --headless`")
        return 0
    console.print(table)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from oneie_tui.views.metrics import compute
    from oneie_tui.views.plan_actuals import compare, run_settings

    store = open_store(args)
    row = store.get_run(args.run)
    events = list(store.events(row.id))
    now = row.ended or (events[-1].ts if events else None)
    metrics = compute(events, now=now)
    vs = compare(row.spec_text, metrics, *run_settings(events))
    data = {**run_record(row), "metrics": metrics.to_dict(), "plan": vs.to_dict() if vs else None}
    coordination = [e.to_dict() for e in events if e.type == EventType.TASK_EVENT]
    said = [e.to_dict() for e in events if e.type == EventType.AGENT_MESSAGE]  # what the user told agents
    if args.json:
        print(json.dumps(json_safe({**data, "coordination": coordination, "messages": said, "events": len(events)}),
                         allow_nan=False))
        return 0
    from rich.console import Console
    from rich.text import Text

    from oneie_tui.commands.headless import summary_table

    console = Console()
    summary = {"run_id": row.id, "status": row.status, **metrics.to_dict()}
    console.print(Text.assemble(safe_text(row.spec_name, "bold"), f" · {_when(row.started)} · {len(events)} events"))
    if row.damaged:
        console.print(safe_text(f"damaged: {row.damaged}; delete it with: oneie delete {row.id}", "red"))
    damaged_events = sum(1 for e in events if "damaged" in e.metadata)
    if damaged_events:
        console.print(Text(f"{damaged_events:,} damaged events (read as empty)", style="red"))
    console.print(summary_table(summary))
    if vs is not None:
        from oneie_tui.views.plan_render import plan_vs_actual_table

        console.print(plan_vs_actual_table(vs))
    if args.gantt:
        from oneie_tui.views.gantt_lanes import build_gantt, render_gantt

        markers = [e for e in events if e.type == EventType.TASK_EVENT]
        model = build_gantt(metrics, markers, events[0].ts if events else None, now)  # the metrics above
        model.cycle_s = vs.run_cycle_s if vs is not None else None
        if vs is not None and vs.plan.cycles is not None:
            model.cycle_first = vs.plan.cycles.first
        width = args.width or console.width or shutil.get_terminal_size().columns
        console.print(render_gantt(model, width), soft_wrap=True)
        return 0
    for e in coordination:
        t = e["ts"] - (events[0].ts if events else 0)
        console.print(safe_text(f"  {t:7.2f}s  ⚡ {e['actor']} → {e['metadata'].get('action')}"), highlight=False)
    from oneie_tui.views.report import message_line

    for e in said:
        t = e["ts"] - (events[0].ts if events else 0)
        said_line = " ".join(message_line(e["metadata"]).split())
        console.print(safe_text(f"  {t:7.2f}s  ✉ {e['actor']} ← {said_line}"), highlight=False)
    return 0


def _refuse_store_as_output(store: Any, output: str) -> None:
    """`-o` naming the store (or its -wal/-shm) would overwrite the runs it is reading."""
    import os
    from pathlib import Path

    target = Path(output)
    for suffix in ("", "-wal", "-shm"):
        own = Path(f"{store.path}{suffix}")
        same = target.absolute().resolve() == own.absolute().resolve()
        if not same and target.exists() and own.exists():
            same = os.path.samefile(target, own)  # a hard link or another spelling
        if same:
            die(f"refusing to write the export over the run store itself ({own})", EXIT_USAGE)


def cmd_export(args: argparse.Namespace) -> int:
    from oneie_tui.atomicfile import atomic_text_file
    from oneie_tui.store.runfile import write_jsonl
    from oneie_tui.views.report import store_pages, write_markdown

    store = open_store(args)
    row = store.get_run(args.run)
    pages = store_pages(store, row.id)

    def write(out: Any) -> None:
        if args.format == "md":
            write_markdown(out, row, pages)
        else:
            write_jsonl(out, row, pages())

    if args.output:
        _refuse_store_as_output(store, args.output)
        try:
            with atomic_text_file(args.output) as out:
                write(out)
        except OSError as exc:  # full disk, no permission, no folder: nothing is left half-written
            die(f"cannot write {args.output}: {exc.strerror or exc}", 1)
        sys.stderr.write(f"wrote {args.output}\n")
        return 0
    try:
        write(sys.stdout)
        sys.stdout.flush()
    except BrokenPipeError:  # `| head`: the reader has what it wanted
        _silence_stdout()
    except OSError as exc:
        _silence_stdout()
        die(f"cannot write the export to stdout: {exc.strerror or exc}", 1)
    return 0


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush raises nothing more."""
    import os

    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def cmd_import(args: argparse.Namespace) -> int:
    from oneie_tui.store.runfile import RunFileError, import_run

    store = open_store(args)
    try:
        run_id, count = import_run(store, args.file, args.rename)
    except RunFileError as exc:
        die(str(exc), EXIT_USAGE)
    print(f"imported run {run_id} ({count:,} events) into {store.path}")
    print(f"replay it with: oneie replay {run_id}")
    return 0


def cmd_resume(args: argparse.Namespace) -> int:
    from oneie_tui.commands.headless import run_headless
    from oneie_tui.engine.resume import ResumeError, prepare_resume
    from oneie_tui.engine.session import SetupError

    store = open_store(args)
    try:
        resumed = prepare_resume(store, args.run, args.base_url or None, allow_imported=args.run_imported)
    except ResumeError as exc:
        die(str(exc), 1)
    except SetupError as exc:
        die(str(exc), EXIT_USAGE)
    runner = resumed.runner
    if store.is_imported(runner.run_id):
        from oneie_tui.engine.resume import what_would_run

        sys.stderr.write(f"run {runner.run_id} was imported; --run-imported runs what its file asks:\n")
        for line in what_would_run(resumed):
            sys.stderr.write(f"  {line}\n")
    note = (
        f"resuming run {runner.run_id}: relaunching {', '.join(resumed.relaunch) or 'no agent'}"
        + (f"; kept {', '.join(resumed.kept)}" if resumed.kept else "")
    )
    sys.stderr.write(note + "\n")
    try:
        return run_headless(
            runner, as_json=args.json, agent_ids=resumed.relaunch, resume=True, notify=args.notify
        )
    finally:
        store.close()


def cmd_delete(args: argparse.Namespace) -> int:
    store = open_store(args)
    row = store.get_run(args.run)
    if row.status == "running":
        die(f"run {row.id} is still running (pid {row.pid}); stop it first", 1)
    store.delete_run(row.id)
    print(f"deleted run {row.id} from {store.path}")
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    import math

    store = open_store(args)
    row = store.get_run(args.run)  # fail here, before the screen opens, on a bad id
    speed = math.inf if args.speed == "instant" else float(args.speed)

    def factory() -> Any:
        from oneie_tui.ui.screens.replay import ReplayScreen

        return ReplayScreen(store, row.id, speed=speed, autoplay=not args.paused)

    return open_app(args, factory, store)


def cmd_history(args: argparse.Namespace) -> int:
    store = open_store(args)

    def factory() -> Any:
        from oneie_tui.ui.screens.history import HistoryScreen

        return HistoryScreen(store, read_only=args.read_only)

    return open_app(args, factory, store)
