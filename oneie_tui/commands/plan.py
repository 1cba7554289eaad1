"""`oneie plan SPEC`: will this be faster, and is it set up right? The reference's
arithmetic from the spec's estimates (views/plan.py) and its lints (spec/lints.py),
before anything runs."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from oneie_tui.commands.common import guarded

if TYPE_CHECKING:
    from oneie_tui.spec.lints import Lint
    from oneie_tui.spec.loader import LoadedSpec
    from oneie_tui.views.plan import Plan


def _slots(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 0 <= value <= 10_000:
        raise argparse.ArgumentTypeError("must be from 0 (no limit) to 10000")
    return value


def register(sub: Any) -> None:
    p = sub.add_parser("plan", help="the plan of a spec before it runs: times, speedup, cycles, lints")
    p.add_argument("spec", help="spec file")
    p.add_argument("--json", action="store_true", help="the plan and the lints as one JSON object")
    p.add_argument(
        "--max-parallel", type=_slots, default=None, metavar="N",
        help="plan with N slots instead of [run] max_parallel (0: no limit)",
    )
    p.add_argument("--width", type=int, default=None, help="width of the Gantt bars (default: fits the terminal)")
    p.set_defaults(handler=guarded(cmd_plan))


def cmd_plan(args: argparse.Namespace) -> int:
    from oneie_tui.spec.lints import lint_spec
    from oneie_tui.spec.loader import load_spec
    from oneie_tui.views.plan import build_plan

    loaded = load_spec(args.spec)
    plan = build_plan(loaded.spec, args.max_parallel)
    lints = lint_spec(loaded.spec)
    if args.json:
        print(json.dumps(plan_record(loaded, plan, lints)))
        return 0
    from rich.console import Console

    from oneie_tui.views.plan_render import plan_renderables

    console = Console()
    for part in plan_renderables(loaded, plan, lints, args.width or max(20, console.width - 50)):
        console.print(part)
    return 0


def plan_record(loaded: LoadedSpec, plan: Plan, lints: list[Lint]) -> dict[str, Any]:
    from oneie_tui.spec.loader import locate_field

    return {
        "spec": loaded.name,
        "spec_path": str(loaded.path) if loaded.path else None,
        **plan.to_dict(),
        "lints": [
            {"id": lint.id, "place": lint.place, "line": locate_field(loaded.text, lint.place), "message": lint.message}
            for lint in lints
        ],
    }
