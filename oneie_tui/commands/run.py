"""`oneie run`: run a spec headless (live progress or NDJSON) or in the dashboard."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("run", help="run a spec (headless with --headless or when not on a terminal)")
    p.add_argument("spec", help="spec file (TOML)")
    p.add_argument("--headless", action="store_true", help="no dashboard: live progress bars, then a summary")
    p.add_argument("--json", action="store_true", help="print NDJSON events, then a summary line (implies --headless)")
    p.add_argument("--notify", action="store_true", help="headless too: notify when the run ends or needs you (notify-send, [notify] webhook)")
    from oneie_tui.commands.common import add_store_arg
    from oneie_tui.commands.run_options import add_run_options

    add_run_options(p)
    add_store_arg(p)
    p.set_defaults(handler=cmd_run)


def cmd_run(args: argparse.Namespace) -> int:
    from oneie_tui.commands.common import guarded

    return int(guarded(_run)(args))


def _run(args: argparse.Namespace) -> int:
    from oneie_tui.commands.common import die, open_store
    from oneie_tui.commands.run_options import options_from_args
    from oneie_tui.spec.loader import load_spec

    loaded = load_spec(args.spec)
    options = options_from_args(args)
    headless = args.headless or args.json or not sys.stdout.isatty()
    if not headless:  # on a terminal: the dashboard, with every option `run` shares with `tui`
        from oneie_tui.commands.tui import open_dashboard

        return open_dashboard(args, run_now=True, theme=None)

    from oneie_tui.commands.headless import run_headless
    from oneie_tui.engine.session import SetupError, build_runner

    store = open_store(args)
    try:
        runner = build_runner(loaded, options, store)
    except SetupError as exc:
        die(f"{args.spec}: {exc}", 2)  # name the file: the problem is in what it asks for
    try:
        return run_headless(runner, as_json=args.json, notify=args.notify)
    finally:
        store.close()
