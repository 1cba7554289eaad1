"""The run options `oneie run` and `oneie tui` share: the flags and the `RunOptions` they make."""

from __future__ import annotations

import argparse
import math
from typing import TYPE_CHECKING

from oneie_tui.trust.numbers import option

if TYPE_CHECKING:
    from oneie_tui.engine.session import RunOptions


def add_run_options(p: argparse.ArgumentParser) -> None:
    """Options shared by `run` and `tui`."""
    p.add_argument("--speed", type=float, default=1.0, metavar="N", help="scale simulated time (2 = twice as fast)")
    p.add_argument("--seed", type=option("--seed", low=0, high=2**63 - 1, integer=True), default=None, help="seed for simulated agents (default: the spec's)")
    p.add_argument("--backend", choices=["sim", "claude", "command", "claude-code", "codex", "gemini"], help="run every agent on this backend")
    p.add_argument("--max-parallel", type=option("--max-parallel", low=0, high=10_000, integer=True), default=None, metavar="N", help="override run.max_parallel (0 = no limit)")
    p.add_argument("--base-url", default=None, help="Anthropic API base URL (else $ANTHROPIC_BASE_URL)")
    p.add_argument("--sequential", action="store_true", help="one agent at a time, for comparison")
    p.add_argument("--executor", choices=["local", "ray"], default=None, help="where backends run (default: the spec's [run] executor)")
    p.add_argument("--ray-address", default=None, metavar="ADDR", help="an existing Ray cluster (else $RAY_ADDRESS, else a local one for the run)")


def options_from_args(args: argparse.Namespace) -> RunOptions:
    from oneie_tui.agents.base import BackendOptions
    from oneie_tui.commands.common import die
    from oneie_tui.engine.session import RunOptions

    if not (math.isfinite(args.speed) and 0 < args.speed <= 1e6):  # NaN and inf too
        die(f"--speed must be greater than 0 and at most 1000000, got {args.speed}", 2)
    if args.max_parallel is not None and args.max_parallel < 0:
        die("--max-parallel must be 0 (no limit) or more", 2)
    return RunOptions(
        speed=args.speed,
        seed=args.seed,
        sequential=getattr(args, "sequential", False),
        backend=args.backend,
        max_parallel=args.max_parallel,
        executor=getattr(args, "executor", None),
        ray_address=getattr(args, "ray_address", None) or None,
        backend_options=BackendOptions(base_url=getattr(args, "base_url", None) or None),
    )
