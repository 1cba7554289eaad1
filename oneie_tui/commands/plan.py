"""`oneie plan SPEC`: will this be faster, and is it set up right? The reference's
arithmetic from the spec's estimates (views/plan.py) and its lints (spec/lints.py),
before anything runs."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from oneie_tui.commands.common import guarded

if TYPE_CHECKING:
    from rich.console import RenderableType

    from oneie_tui.spec.lints import Lint
    from oneie_tui.spec.loader import LoadedSpec
    from oneie_tui.views.plan import Plan
    from oneie_tui.views.plan_actuals import PlanVsActual


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


def plan_renderables(loaded: LoadedSpec, plan: Plan, lints: list[Lint], bar_width: int) -> list[RenderableType]:
    """The plan as rich renderables: the figures, the agents with a small Gantt, the
    cycles and the lints. Spec text goes in as `Text`, never as markup."""
    from rich.table import Table
    from rich.text import Text

    from oneie_tui.spec.loader import locate_field
    from oneie_tui.views.plan import fmt_cycles, fmt_duration, plan_bars

    out: list[RenderableType] = []
    title = Text("Plan: ", style="bold")
    title.append(loaded.name)
    if loaded.path:
        title.append(f" ({loaded.path})", style="dim")
    out.append(title)

    figures = Table(box=None, header_style="bold underline", pad_edge=False)
    for col in ("Sequential", "Parallel", "Speedup", "Peak", "Average", "Utilization"):
        figures.add_column(col, justify="right", no_wrap=True)
    figures.add_row(
        fmt_duration(plan.sequential_s),
        fmt_duration(plan.parallel_s),
        f"{plan.speedup:.2f}x",
        str(plan.peak),
        f"{plan.average:.2f}",
        f"{plan.utilization_sequential:.0%} → {plan.utilization:.0%}",
    )
    out.append(figures)
    path = Text("Critical path: ", style="bold")
    path.append(" → ".join(plan.critical_path) or "—")
    path.append(f" ({fmt_duration(plan.parallel_s)}; longest agent {fmt_duration(plan.longest_s)})")
    out.append(path)
    if plan.capped_s is not None:
        out.append(Text(
            f"With max_parallel = {plan.max_parallel}: {fmt_duration(plan.capped_s)}, "
            f"{plan.capped_speedup or 0.0:.2f}x, peak {plan.capped_peak}, utilization "
            f"{plan.capped_utilization or 0.0:.0%} of {min(plan.max_parallel, len(plan.agents))} slots "
            f"(the Gantt below; without the limit {fmt_duration(plan.parallel_s)}, {plan.speedup:.2f}x)"
        ))
    if plan.missing:
        out.append(Text(
            f"No estimate for {', '.join(plan.missing)}: counted as 0; add estimate = \"2h\" "
            "(or \"90m\", or seconds)", style="yellow"
        ))

    agents = Table(box=None, header_style="bold underline", pad_edge=False)
    agents.add_column("agent", no_wrap=True)
    agents.add_column("estimate", justify="right", no_wrap=True)
    agents.add_column("plan", no_wrap=True)
    agents.add_column("when", no_wrap=True)
    schedule = plan.capped if plan.capped is not None else plan.schedule
    critical = set(plan.critical_path)
    for (agent_id, bar, note), agent in zip(plan_bars(plan, bar_width), plan.agents, strict=True):
        estimate = fmt_duration(agent.duration) + (f" ({agent.source})" if agent.source not in ("estimate", "") else "")
        lost = agent.id in schedule.slots and schedule.slots[agent.id].lost
        style = "bold magenta" if agent_id in critical else ("dim" if lost else "cyan")
        agents.add_row(Text(agent_id), estimate, Text(bar, style=style), Text(note))
    out.append(agents)

    if plan.cycles is not None:
        c = plan.cycles
        cycle = f" of {fmt_duration(plan.cycle_s)}" if plan.cycle_s else ""
        out.append(Text(
            f"Cycles{cycle}: {c.sequential:.3g} one after another, {c.parallel:.3g} in parallel "
            f"(cycles {c.first}-{c.first + max(round(c.parallel), 1) - 1}): "
            f"{fmt_cycles(c.saved)} saved ({c.saved_fraction:.0%} faster)"
        ))
    if lints:
        out.append(Text(f"{len(lints)} warning{'s' if len(lints) != 1 else ''}:", style="bold yellow"))
        for lint in lints:
            line = locate_field(loaded.text, lint.place)
            where = f"{loaded.path or '<spec>'}{f':{line}' if line else ''}"
            out.append(Text(f"  {where}: {lint}", style="yellow"))
    else:
        out.append(Text("No lint warnings.", style="green"))
    return out


def plan_vs_actual_table(vs: PlanVsActual) -> RenderableType:
    """`oneie show`: the plan beside the run, per agent and overall."""
    from rich.table import Table
    from rich.text import Text

    from oneie_tui.views.plan import fmt_duration

    plan = vs.plan
    caption = (
        f"planned {fmt_duration(plan.sequential_s)} → {fmt_duration(vs.planned_parallel_s)} "
        f"({vs.planned_speedup:.2f}x); measured {fmt_duration(vs.measured_sequential_s)} → "
        f"{fmt_duration(vs.measured_wall_s)} ({vs.measured_speedup:.2f}x)"
    )
    if plan.cycles is not None and vs.measured_cycles is not None:
        caption += f"; {plan.cycles.parallel:.3g} cycles planned, {vs.measured_cycles:.3g} taken"
    table = Table(
        title="plan against actuals", title_justify="left", caption=caption, caption_justify="left",
        box=None, header_style="bold underline",
    )
    table.add_column("agent", no_wrap=True)
    for col in ("estimate", "active", "actual/plan"):
        table.add_column(col, justify="right", no_wrap=True)
    table.add_column("status", no_wrap=True)
    for a in vs.agents:
        ratio = "—" if a.ratio is None else f"{a.ratio:.2f}x"
        table.add_row(Text(a.id), fmt_duration(a.estimate_s), fmt_duration(a.active_s), ratio, a.status)
    return table
