"""The plan as rich renderables, for `oneie plan`, `oneie show` and the dashboard's plan
screen: the figures, a small Gantt of the planned schedule, cycles, lints. Styles are a
mapping (the dashboard passes its theme's colours); spec text is always `Text`."""

from __future__ import annotations

from collections.abc import Mapping

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from oneie_tui.spec.lints import Lint
from oneie_tui.spec.loader import LoadedSpec, locate_field
from oneie_tui.views.plan import Plan, fmt_cycles, fmt_duration, plan_bars
from oneie_tui.views.plan_actuals import PlanVsActual

STYLES: Mapping[str, str] = {
    "critical": "bold magenta",
    "bar": "cyan",
    "lost": "dim",
    "warning": "yellow",
    "ok": "green",
}


def printable(text: str) -> str:
    """Spec text for a terminal: control and format characters shown escaped (`\\x1b`),
    never sent to the terminal."""
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def plan_renderables(
    loaded: LoadedSpec,
    plan: Plan,
    lints: list[Lint],
    bar_width: int,
    styles: Mapping[str, str] = STYLES,
) -> list[RenderableType]:
    """The plan as rich renderables: the figures, the agents with a small Gantt, the
    cycles and the lints. Spec text goes in as `Text`, never as markup."""
    out: list[RenderableType] = []
    title = Text("Plan: ", style="bold")
    title.append(printable(loaded.name))
    if loaded.path:
        title.append(f" ({printable(str(loaded.path))})", style=styles["lost"])
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
            "(or \"90m\", or seconds)", style=styles["warning"]
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
        style = styles["critical"] if agent_id in critical else (styles["lost"] if lost else styles["bar"])
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
        out.append(Text(f"{len(lints)} warning{'s' if len(lints) != 1 else ''}:", style=f"bold {styles['warning']}"))
        for lint in lints:
            line = locate_field(loaded.text, lint.place)
            where = f"{loaded.path or '<spec>'}{f':{line}' if line else ''}"
            out.append(Text(printable(f"  {where}: {lint}"), style=styles["warning"]))
    else:
        out.append(Text("No lint warnings.", style=styles["ok"]))
    return out


def plan_vs_actual_table(vs: PlanVsActual) -> RenderableType:
    """`oneie show`: the plan beside the run, per agent and overall."""
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
