"""`oneie run`: run a spec headless (live progress or NDJSON) or in the dashboard."""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any

from oneie_tui.numbers import option


def add_run_options(p: argparse.ArgumentParser) -> None:
    """Options shared by `run` and `tui`."""
    p.add_argument("--speed", type=float, default=1.0, metavar="N",
                   help="scale simulated time (2 = twice as fast)")
    p.add_argument("--seed", type=option("--seed", low=0, high=2**63 - 1, integer=True), default=None, help="seed for simulated agents (default: the spec's)")
    p.add_argument("--backend", choices=["sim", "claude", "command", "claude-code"], help="run every agent on this backend")
    p.add_argument("--max-parallel", type=option("--max-parallel", low=0, high=10_000, integer=True), default=None, metavar="N", help="override run.max_parallel (0 = no limit)")
    p.add_argument("--base-url", default=None, help="Anthropic API base URL (else $ANTHROPIC_BASE_URL)")
    p.add_argument("--sequential", action="store_true", help="one agent at a time, for comparison")


def register(sub: Any) -> None:
    p = sub.add_parser("run", help="run a spec (headless with --headless or when not on a terminal)")
    p.add_argument("spec", help="spec file (TOML)")
    p.add_argument("--headless", action="store_true", help="no dashboard: live progress bars, then a summary")
    p.add_argument("--json", action="store_true", help="print NDJSON events, then a summary line (implies --headless)")
    add_run_options(p)
    from oneie_tui.commands.common import add_store_arg

    add_store_arg(p)
    p.set_defaults(handler=cmd_run)


def options_from_args(args: argparse.Namespace) -> Any:
    from oneie_tui.commands.common import die
    from oneie_tui.engine.session import RunOptions

    if not (math.isfinite(args.speed) and 0 < args.speed <= 1e6):  # NaN and inf too
        die(f"--speed must be greater than 0 and at most 1000000, got {args.speed}", 2)
    if args.max_parallel is not None and args.max_parallel < 0:
        die("--max-parallel must be 0 (no limit) or more", 2)
    extra: dict[str, Any] = {}
    if getattr(args, "base_url", None):
        extra["base_url"] = args.base_url
    return RunOptions(
        speed=args.speed,
        seed=args.seed,
        sequential=getattr(args, "sequential", False),
        backend=args.backend,
        max_parallel=args.max_parallel,
        extra=extra,
    )


def cmd_run(args: argparse.Namespace) -> int:
    from oneie_tui.commands.common import guarded

    return int(guarded(_run)(args))


def _run(args: argparse.Namespace) -> int:
    from oneie_tui.commands.common import die, open_store
    from oneie_tui.spec.loader import load_spec

    loaded = load_spec(args.spec)
    options = options_from_args(args)
    headless = args.headless or args.json or not sys.stdout.isatty()
    if not headless:
        from oneie_tui.cli import main

        # Every option `run` shares with `tui` goes along (see add_run_options).
        forwarded = ["tui", args.spec, "--run", "--speed", str(args.speed)]
        for flag, value in (
            ("--store", args.store),
            ("--backend", args.backend),
            ("--seed", args.seed),
            ("--max-parallel", args.max_parallel),
            ("--base-url", args.base_url),
        ):
            if value is not None:
                forwarded += [flag, str(value)]
        if args.sequential:
            forwarded.append("--sequential")
        return main(forwarded)

    from oneie_tui.commands.headless import run_headless
    from oneie_tui.engine.session import SetupError, build_runner

    store = open_store(args)
    try:
        runner = build_runner(loaded, options, store)
    except SetupError as exc:
        die(f"{args.spec}: {exc}", 2)  # name the file: the problem is in what it asks for
    try:
        return run_headless(runner, as_json=args.json)
    finally:
        store.close()
