"""The Markdown report of a run (`oneie export RUN --format md`).

Sections: the run, the reference's metrics table (sequential time, parallel time, speedup,
utilization, tokens, cost), the Gantt picture, each agent's result and status, the
coordination events, and every event in time order. The events are read twice, page by
page (a fold, then the table), so a run of millions of events never sits in memory.
No Textual here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import TextIO

from oneie_tui.events import Event, EventType, awaited, total_tokens
from oneie_tui.store.base import RunRow, Store
from oneie_tui.trust.display import display
from oneie_tui.trust.numbers import finite_or
from oneie_tui.views.gantt_lanes import gantt_from_view, gantt_plain
from oneie_tui.views.land_view import Landing, describe_land
from oneie_tui.views.plan import fmt_duration
from oneie_tui.views.plan_actuals import PlanVsActual, compare, run_settings
from oneie_tui.views.run_view import RunView, initial_view

PAGE = 10_000
DETAIL_MAX = 160
OUTPUT_TAIL_LINES = 5


def store_pages(store: Store, run_id: str, page: int = PAGE) -> Callable[[], Iterator[Event]]:
    """A re-iterable source of a stored run's events, read `page` at a time."""

    def events() -> Iterator[Event]:
        first, last = store.seq_bounds(run_id)
        seq = first
        while first and seq <= last:
            chunk = store.events_range(run_id, seq, min(last, seq + page - 1))
            yield from chunk
            seq += page

    return events


def _cell(value: object) -> str:
    """Text safe inside a Markdown table cell: one line, no pipes, no raw HTML, no control
    character (the report's default is stdout, often a terminal)."""
    text = display(" ".join(str(value).split()))
    text = text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
    return text if len(text) <= DETAIL_MAX else text[: DETAIL_MAX - 1] + "…"


def _utc(ts: float | None) -> str:
    if ts is None or finite_or(ts, -1.0) < 0:
        return "—"
    try:
        when = datetime.fromtimestamp(ts, UTC)
    except (OverflowError, OSError, ValueError):  # a stored time beyond the calendar
        return "—"
    return when.strftime("%Y-%m-%d %H:%M:%S UTC")


def _secs(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}s"


def detail(e: Event) -> str:
    """One short line saying what an event carried, fit to show (`display`)."""
    return display(_detail(e), keep_newlines=True)  # callers fold lines into one


def _detail(e: Event) -> str:
    md = e.metadata
    kind = e.type
    if kind == EventType.AGENT_OUTPUT:
        return str(md.get("text", ""))
    if kind == EventType.AGENT_PROGRESS:
        note = f" {md['note']}" if md.get("note") else ""
        return f"{finite_or(md.get('percent'), 0.0):.0f}%{note}"
    if kind == EventType.TASK_EVENT:
        extra = f" — {md['error']}" if md.get("error") else ""
        return f"{e.action}{extra}"
    if kind == EventType.AGENT_WAITING:
        waits = awaited(md)
        return "for " + ", ".join(waits) if waits else ""
    if kind in (EventType.AGENT_QUEUED, EventType.AGENT_STARTED):
        return f"attempt {md.get('attempt', 1)}" + (" (waiting for a slot)" if md.get("slot") else "")
    if kind in (EventType.AGENT_COMPLETED, EventType.AGENT_FAILED, EventType.AGENT_CANCELLED, EventType.AGENT_BLOCKED):
        return str(md.get("reason") or md.get("summary") or "")
    if kind == EventType.USAGE:
        return f"{total_tokens(md):,} tokens, ${finite_or(md.get('cost_usd'), 0.0):.4f}"
    if kind == EventType.RUN_STARTED:
        launch = md.get("launch", md.get("agents", []))
        return ("resumed: " if md.get("resumed") else "launch: ") + ", ".join(map(str, launch))
    if kind in (EventType.RUN_FINISHED, EventType.RUN_FAILED):
        return str(md.get("status", "")) + (f" — {md['reason']}" if md.get("reason") else "")
    if kind == EventType.AGENT_TOOL:
        return str(md.get("name", md.get("tool", "")))
    if kind == EventType.AGENT_MESSAGE:
        return message_line(md)
    if (land := describe_land(e)) is not None:
        return land
    return ", ".join(f"{k}={v}" for k, v in md.items() if k not in ("text",))


def message_line(md: dict[str, object]) -> str:
    """What an `agent_message` said, and how it reached the agent (not yet `display`ed)."""
    how = "follow-up" if md.get("delivery") == "followup" else "message"
    return f"{how} (attempt {md.get('attempt', '?')}): {md.get('text', '')}"


def fold(
    run: RunRow, events: Iterable[Event], landing: Landing | None = None,
    messages: list[Event] | None = None,
) -> tuple[RunView, list[Event], int]:
    """The run's final view (the same fold as the dashboard), its coordination events and
    its event count; `landing` (if given) folds the radar, land and acceptance events;
    `messages` (if given) gets what the user said to the agents."""
    view = initial_view(run)
    coordination: list[Event] = []
    count = 0
    for e in events:
        view.apply(e)
        if landing is not None:
            landing.apply(e)
        count += 1
        if e.type == EventType.TASK_EVENT:
            coordination.append(e)
        elif e.type == EventType.AGENT_MESSAGE and messages is not None:
            messages.append(e)
    return view, coordination, count


def write_markdown(out: TextIO, run: RunRow, events: Callable[[], Iterable[Event]]) -> None:
    """Write the report. `events()` is called twice and must give the run's events in
    seq order each time (see `store_pages`)."""
    landing = Landing()
    said: list[Event] = []
    view, coordination, count = fold(run, events(), landing, said)
    now = run.ended or view.last_ts
    metrics = view.metrics(now)
    origin = view.metrics_builder.origin or run.started
    w = out.write

    w(f"# Run report: {_cell(run.spec_name)}\n\n")
    w("| Run | Status | Started | Ended | Events | Spec file |\n|---|---|---|---|---|---|\n")
    w(
        f"| `{_cell(run.id)}` | {_cell(run.status)} | {_utc(run.started)} | {_utc(run.ended)} | {count:,} |"
        f" {_cell(run.spec_path or '—')} |\n\n"
    )
    if view.outcome() != run.status:  # `completed with denials (2 denied)`, `completed (1 cancelled)`
        w(f"Outcome: {_cell(view.outcome())}\n\n")
    if view.reason:
        w(f"Reason: {_cell(view.reason)}\n\n")

    w("## Performance metrics\n\n")
    w("| Feature | Sequential Time | Parallel Time | Speedup | Utilization | Tokens | Cost |\n")
    w("|---|---|---|---|---|---|---|\n")
    tokens = metrics.tokens
    w(
        f"| {_cell(run.spec_name)} | {_secs(metrics.sequential_s)} | {_secs(metrics.wall_s)} |"
        f" {metrics.speedup:.2f}x | {metrics.utilization * 100:.0f}% | {tokens:,} |"
        f" ${metrics.cost_usd:.4f} |\n\n"
    )
    path = " → ".join(metrics.critical_path) or "—"
    w(
        f"Sequential time is the sum of every agent's active time; parallel time is the"
        f" wall time. Critical path: {_cell(path)} ({_secs(metrics.critical_path_s)}),"
        f" ideal speedup {metrics.ideal_speedup:.2f}x. Tokens: {metrics.usage.input_tokens:,} in,"
        f" {metrics.usage.output_tokens:,} out, {metrics.usage.cache_write_tokens:,} cache write,"
        f" {metrics.usage.cache_read_tokens:,} cache read.\n\n"
    )

    speed, limit = run_settings(events())
    vs = compare(run.spec_text, metrics, speed, limit)
    if vs is not None:
        _plan_section(w, vs)

    w("## Gantt\n\n```text\n")
    picture = gantt_from_view(view, now, coordination)
    picture.cycle_s = vs.run_cycle_s if vs is not None else None
    if vs is not None and vs.plan.cycles is not None:
        picture.cycle_first = vs.plan.cycles.first
    w(gantt_plain(picture, 100) + "\n```\n\n")

    w("## Agents\n\n")
    w("| Agent | Role | Status | Start | End | Active | Attempts | Tokens | Cost | Result |\n")
    w("|---|---|---|---|---|---|---|---|---|---|\n")
    for agent_id, a in view.agents.items():
        m = metrics.agents.get(agent_id)
        result = a.summary if a.status == "completed" else a.reason
        w(
            f"| {_cell(agent_id)} | {_cell(a.role or '—')} | {a.status} |"
            f" {_secs(m.started_s if m else None)} | {_secs(m.ended_s if m else None)} |"
            f" {_secs(m.active_s if m else None)} | {m.attempts if m else 0} | {a.tokens:,} |"
            f" ${a.cost_usd:.4f} | {_cell(result or '—')} |\n"
        )
    w("\n")
    for agent_id, a in view.agents.items():
        w(f"### {_cell(agent_id)} — {a.status}\n\n")
        if a.task:
            w(f"- Task: {_cell(a.task)}\n")
        if a.status == "completed":
            w(f"- Result: {_cell(a.summary or 'completed')}\n")
        elif a.reason:
            w(f"- Reason: {_cell(a.reason)}\n")
        w(f"- Events fired: {_cell(', '.join(a.events_fired) or 'none')}\n")
        if a.attention:  # what it needed the user for, each item whole (a denial's full text)
            w(f"- Needs you: {_cell(a.attention_label().removeprefix('needs you: '))}\n")
            for item in a.attention:
                head = item.reason + (f" ({', '.join(item.tools)})" if item.tools else "")
                w("\n```text\n" + f"{head}: {item.text}".replace("```", "'''") + "\n```\n")
        w(f"- Output: {a.output_lines:,} lines\n")
        tail = list(a.output)[-OUTPUT_TAIL_LINES:]
        if tail:
            w("\n```text\n" + "\n".join(line.replace("```", "'''") for line in tail) + "\n```\n")
        w("\n")

    w("## Coordination events\n\n")
    if coordination:
        w("| Time | Agent | Event |\n|---|---|---|\n")
        for e in coordination:
            w(f"| +{e.ts - origin:.3f}s | {_cell(e.actor)} | {_cell(detail(e))} |\n")
    else:
        w("None.\n")
    w("\n")

    if said:
        w("## Messages to agents\n\n| Time | Agent | Delivery | Attempt | Message |\n|---|---|---|---|---|\n")
        for e in said:
            md = e.metadata
            how = "follow-up" if md.get("delivery") == "followup" else "live"
            w(
                f"| +{e.ts - origin:.3f}s | {_cell(e.actor)} | {how} | {_cell(str(md.get('attempt', '?')))} |"
                f" {_cell(md.get('text', ''))} |\n"
            )
        w("\n")

    if not landing.empty:
        write_landing(out, landing)

    w(f"## Events ({count:,}, in time order)\n\n")
    w("| Time | Seq | Actor | Type | Details |\n|---|---|---|---|---|\n")
    for e in events():
        w(
            f"| +{e.ts - origin:.3f}s | {e.seq} | {_cell(e.actor)} | {_cell(e.type)} |"
            f" {_cell(detail(e))} |\n"
        )


def _plan_section(w: Callable[[str], object], vs: PlanVsActual) -> None:
    """The plan (from the stored spec's estimates) beside what the run measured."""
    plan = vs.plan
    w("## Plan against actuals\n\n")
    w("| | Sequential | Parallel | Speedup |\n|---|---|---|---|\n")
    w(f"| Planned | {fmt_duration(plan.sequential_s)} | {fmt_duration(vs.planned_parallel_s)} | {vs.planned_speedup:.2f}x |\n")
    w(
        f"| Measured | {fmt_duration(vs.measured_sequential_s)} | {fmt_duration(vs.measured_wall_s)} |"
        f" {vs.measured_speedup:.2f}x |\n\n"
    )
    w("| Agent | Estimate | Planned start | Active | Actual / plan |\n|---|---|---|---|---|\n")
    for a in vs.agents:
        ratio = "—" if a.ratio is None else f"{a.ratio:.2f}x"
        start = "—" if a.planned_start_s is None else f"+{fmt_duration(a.planned_start_s)}"
        w(
            f"| {_cell(a.id)} | {fmt_duration(a.estimate_s)} | {start} | {fmt_duration(a.active_s)} |"
            f" {ratio} |\n"
        )
    w("\n")
    if plan.cycles is not None:
        c = plan.cycles
        measured = "" if vs.measured_cycles is None else f"; the run took {vs.measured_cycles:.3g} cycles"
        w(
            f"Cycles: {c.sequential:.3g} one after another, {c.parallel:.3g} planned in parallel,"
            f" {c.saved:.3g} cycles saved ({c.saved_fraction:.0%} faster){measured}.\n\n"
        )
    if plan.missing:
        w(f"No estimate for {_cell(', '.join(plan.missing))}: counted as 0 in the plan.\n\n")
def write_landing(out: TextIO, landing: Landing) -> None:
    """Open conflicts, scope breaches, the last landing and the acceptance table."""
    w = out.write
    w("## Landing\n\n")
    if landing.conflicts:
        w("| Agents | Conflict | Paths |\n|---|---|---|\n")
        for (a, b), found in landing.conflicts.items():
            kind = "same lines" if found["kind"] == "same_lines" else "same file"
            w(f"| {_cell(a)}, {_cell(b)} | {kind} | {_cell(', '.join(map(str, found['paths'])))} |\n")
        w("\n")
    for agent_id, paths in landing.scope.items():
        w(f"- {_cell(agent_id)} changed paths outside its scope: {_cell(', '.join(paths))}\n")
    if landing.scope:
        w("\n")
    if landing.status:
        dry = " (dry run)" if landing.dry_run else ""
        w(f"Landed into `{_cell(landing.into)}`{dry}: {landing.status}. ")
        landed = [a + (f" (conflicts resolved by {landing.resolved[a]})" if a in landing.resolved else "")
                  for a in landing.landed]
        w(f"Landed: {_cell(', '.join(landed) or 'none')}.")
        for agent_id, why in landing.left_out.items():
            named = ", ".join(map(str, why.get("paths", [])))
            others = ", ".join(map(str, why.get("conflicts_with", [])))
            resolver = f"; resolver {why['resolver']}: {why.get('resolver_error', '')}" if why.get("resolver") else ""
            w(f" Left out: {_cell(agent_id)} ({_cell(why.get('reason', ''))}: {_cell(named)}"
              + (f", with {_cell(others)}" if others else "") + _cell(resolver) + ").")
        w("\n\n")
    if landing.checks:
        w("| Acceptance | Result | Exit | Output (tail) |\n|---|---|---|---|\n")
        for check in landing.checks:
            w(f"| {_cell(check.text)} | {'passed' if check.passed else 'failed'} |"
              f" {'—' if check.exit_code is None else check.exit_code} | {_cell(check.tail or '—')} |\n")
        w("\n")
