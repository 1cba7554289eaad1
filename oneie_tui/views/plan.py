"""The plan of a spec before it runs: the reference's arithmetic from estimates alone.

- each agent's planned time is its `estimate`, else its sim `duration` (sim agents), else
  its cycle range times `[run] cycle`; events fire at the same points of that time as the
  sim fires them (the given times scaled, the others spread evenly, the last at the end);
- sequential time is the sum (a race counts once: its winner), parallel time is the
  length of a simulated schedule that starts each agent the moment its waits are met
  (the critical path through the waits), and again with `max_parallel` slots, queued
  first come, first served as the runner does;
- peak and average parallelism, and utilization = busy / (lanes × time), the reference's
  "33% → 100%" (lanes: the agents, or fewer slots);
- cycles: with cycle ranges or a cycle length, the same schedule counted in cycles, and
  the cycles it saves.

Pure functions of the spec: no engine, no Textual.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from oneie_tui.spec.model import AgentSpec, Spec, cycle_range


@dataclass(frozen=True)
class PlanAgent:
    """One agent as the plan sees it: how long it takes and when its events fire."""

    id: str
    role: str
    duration: float | None  # planned active seconds; None: nothing to plan from
    source: str  # "estimate", "sim", "cycles" or "" (none)
    after: tuple[str, ...] = ()
    after_any: tuple[str, ...] = ()
    fires: tuple[tuple[str, float], ...] = ()  # (event, fraction of the duration)
    race: str | None = None
    cycles: tuple[int, int] | None = None

    @property
    def cycle_count(self) -> int | None:
        return None if self.cycles is None else self.cycles[1] - self.cycles[0] + 1


@dataclass(frozen=True)
class Slot:
    start: float
    end: float
    lost: bool = False  # a race member cancelled when a mate won


@dataclass
class Schedule:
    slots: dict[str, Slot] = field(default_factory=dict)
    never: list[str] = field(default_factory=list)  # waits that can never be met
    started_by: dict[str, str] = field(default_factory=dict)  # agent -> emitter it waited on last

    @property
    def makespan(self) -> float:
        return max((s.end for s in self.slots.values()), default=0.0)


@dataclass
class CyclePlan:
    first: int
    sequential: float
    parallel: float
    ranges: dict[str, tuple[int, int]]  # the parallel schedule, in cycle numbers

    @property
    def saved(self) -> float:
        return self.sequential - self.parallel

    @property
    def saved_fraction(self) -> float:
        return self.saved / self.sequential if self.sequential > 0 else 0.0


@dataclass
class Plan:
    agents: list[PlanAgent]
    sequential_s: float
    parallel_s: float
    capped_s: float | None  # with max_parallel slots, when a limit is set
    max_parallel: int
    critical_path: list[str]
    peak: int
    average: float
    utilization_sequential: float
    utilization: float
    capped_peak: int | None
    capped_utilization: float | None
    longest_s: float
    schedule: Schedule
    capped: Schedule | None
    missing: list[str]  # agents with nothing to plan from
    cycle_s: float | None
    cycles: CyclePlan | None

    @property
    def speedup(self) -> float:
        return self.sequential_s / self.parallel_s if self.parallel_s > 0 else 0.0

    @property
    def capped_speedup(self) -> float | None:
        if self.capped_s is None:
            return None
        return self.sequential_s / self.capped_s if self.capped_s > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        def slot(s: Slot) -> dict[str, Any]:
            return {"start_s": round(s.start, 6), "end_s": round(s.end, 6), "race_lost": s.lost}

        out: dict[str, Any] = {
            "sequential_s": round(self.sequential_s, 6),
            "parallel_s": round(self.parallel_s, 6),
            "speedup": round(self.speedup, 4),
            "critical_path": self.critical_path,
            "longest_s": round(self.longest_s, 6),
            "peak_parallelism": self.peak,
            "average_parallelism": round(self.average, 4),
            "utilization_sequential": round(self.utilization_sequential, 4),
            "utilization": round(self.utilization, 4),
            "max_parallel": self.max_parallel,
            "capped_s": None if self.capped_s is None else round(self.capped_s, 6),
            "capped_speedup": None if self.capped_speedup is None else round(self.capped_speedup, 4),
            "capped_peak_parallelism": self.capped_peak,
            "capped_utilization": None if self.capped_utilization is None else round(self.capped_utilization, 4),
            "missing_estimates": self.missing,
            "cycle_s": self.cycle_s,
            "agents": [
                {
                    "id": a.id,
                    "role": a.role,
                    "estimate_s": a.duration,
                    "source": a.source,
                    "cycles": None if a.cycles is None else f"{a.cycles[0]}-{a.cycles[1]}",
                    "planned": slot(self.schedule.slots[a.id]) if a.id in self.schedule.slots else None,
                }
                for a in self.agents
            ],
            "never_start": self.schedule.never,
        }
        if self.cycles is not None:
            c = self.cycles
            out["cycles"] = {
                "first": c.first,
                "sequential": round(c.sequential, 4),
                "parallel": round(c.parallel, 4),
                "saved": round(c.saved, 4),
                "saved_fraction": round(c.saved_fraction, 4),
                "ranges": {k: f"{a}-{b}" for k, (a, b) in c.ranges.items()},
            }
        return out


def _fractions(agent: AgentSpec) -> tuple[tuple[str, float], ...]:
    """When each emitted event fires, as a fraction of the agent's time (the sim's rule)."""
    sim = agent.sim
    unscheduled = [e for e in agent.emits if e not in sim.events]
    out = {name: (i + 1) / len(unscheduled) for i, name in enumerate(unscheduled)}
    for name, t in sim.events.items():
        out[name] = min(t / sim.duration, 1.0) if sim.duration > 0 else 1.0
    return tuple((name, out[name]) for name in agent.emits if name in out)


def plan_agent(spec: Spec, agent: AgentSpec, sim_speed: float = 1.0) -> PlanAgent:
    cycles = cycle_range(agent.cycles) if agent.cycles else None
    duration: float | None
    if agent.estimate is not None:
        duration, source = agent.estimate, "estimate"
    elif spec.backend_of(agent) == "sim":
        duration, source = agent.sim.duration / sim_speed, "sim"
    elif cycles is not None and spec.run.cycle is not None:
        duration, source = (cycles[1] - cycles[0] + 1) * spec.run.cycle, "cycles"
    else:
        duration, source = None, ""
    return PlanAgent(
        id=agent.id,
        role=agent.role,
        duration=duration,
        source=source,
        after=tuple(agent.after),
        after_any=tuple(agent.after_any),
        fires=_fractions(agent),
        race=agent.race,
        cycles=cycles,
    )


def simulate(agents: list[PlanAgent], cap: int = 0, times: dict[str, float] | None = None) -> Schedule:
    """Play the plan as the runner would: an agent becomes ready when all its `after`
    events and the first of its `after_any` have fired, takes a free slot (FIFO, `cap`
    slots, 0 = no limit), runs for its time and fires its events on the way. A race
    member's success cancels its mates. `times` overrides the durations (cycle counts)."""
    index = {a.id: a for a in agents}
    order = {a.id: i for i, a in enumerate(agents)}
    dur = {a.id: (times[a.id] if times is not None else a.duration) or 0.0 for a in agents}
    waiters: dict[str, list[PlanAgent]] = {}  # event -> agents whose start it may allow
    for a in agents:
        for name in {*a.after, *a.after_any}:
            waiters.setdefault(name, []).append(a)
    fired: dict[str, tuple[float, str]] = {}  # event -> (time, emitter), first firing
    slots: dict[str, Slot] = {}
    started_by: dict[str, str] = {}
    running: dict[str, float] = {}  # id -> start
    queue: list[str] = []
    pending: dict[str, PlanAgent] = {a.id: a for a in agents}
    check: list[PlanAgent] = list(agents)  # who may have become ready since the last look
    lost: set[str] = set()
    now = 0.0

    def ready(a: PlanAgent) -> bool:
        return all(n in fired for n in a.after) and (not a.after_any or any(n in fired for n in a.after_any))

    def blocker(a: PlanAgent) -> str | None:
        """The emitter of the wait met last: the agent this one's start hangs on."""
        waits = [fired[n] for n in a.after]
        if a.after_any:
            waits.append(min(fired[n] for n in a.after_any if n in fired))
        # Ties go to the agent listed first, so the path reads the way the spec does.
        return max(waits, key=lambda w: (w[0], -order[w[1]]))[1] if waits else None

    while True:
        for a in sorted({c.id: c for c in check}.values(), key=lambda c: order[c.id]):
            if a.id in pending and ready(a):
                del pending[a.id]
                queue.append(a.id)
                who = blocker(a)
                if who is not None:
                    started_by[a.id] = who
        while queue and (cap <= 0 or len(running) < cap):
            running[queue.pop(0)] = now
        if not running:
            break
        # The next instant something happens: an event fires or an agent ends.
        nxt = math.inf
        for aid, start in running.items():
            nxt = min(nxt, start + dur[aid])
            for name, frac in index[aid].fires:
                if name not in fired and start + frac * dur[aid] > now:
                    nxt = min(nxt, start + frac * dur[aid])
        now = nxt
        ended: list[str] = []
        check = []
        for aid, start in running.items():
            for name, frac in index[aid].fires:
                if name not in fired and start + frac * dur[aid] <= now:
                    fired[name] = (now, aid)
                    check += waiters.get(name, [])
            if start + dur[aid] <= now:
                ended.append(aid)
        for aid in ended:
            slots[aid] = Slot(running.pop(aid), now, lost=aid in lost)
            race = index[aid].race
            if race and aid not in lost:
                for mate in agents:
                    if mate.race == race and mate.id != aid and mate.id not in slots:
                        lost.add(mate.id)
                        if mate.id in running:
                            slots[mate.id] = Slot(running.pop(mate.id), now, lost=True)
                        if mate.id in queue:
                            queue.remove(mate.id)
                        pending.pop(mate.id, None)
    return Schedule(slots=slots, never=list(pending), started_by=started_by)


def critical_path(schedule: Schedule) -> list[str]:
    """From the agent that ends last back through the emitters whose events it waited on."""
    live = {k: s for k, s in schedule.slots.items() if not s.lost}
    if not live:
        return []
    rank = {k: i for i, k in enumerate(live)}
    node: str | None = max(live, key=lambda k: (live[k].end, -rank[k]))
    path: list[str] = []
    while node is not None and node not in path:
        path.append(node)
        node = schedule.started_by.get(node)
    return path[::-1]


def _busy(schedule: Schedule) -> float:
    return sum(s.end - s.start for s in schedule.slots.values())


def _peak(schedule: Schedule) -> int:
    edges = sorted([(s.start, 1) for s in schedule.slots.values() if s.end > s.start]
                   + [(s.end, -1) for s in schedule.slots.values() if s.end > s.start])
    peak = level = 0
    for _, step in edges:  # ends sort before starts at the same instant
        level += step
        peak = max(peak, level)
    return peak


def _cycle_plan(spec: Spec, agents: list[PlanAgent], winners: set[str]) -> CyclePlan | None:
    cycle_s = spec.run.cycle
    counts: dict[str, float] = {}
    for a in agents:
        if a.cycle_count is not None:
            counts[a.id] = float(a.cycle_count)
        elif cycle_s is not None and a.duration is not None:
            counts[a.id] = a.duration / cycle_s
        else:
            return None
    schedule = simulate(agents, 0, counts)
    first = min((a.cycles[0] for a in agents if a.cycles is not None), default=1)
    ranges = {
        aid: (first + math.floor(s.start + 1e-9), first + max(math.ceil(s.end - 1e-9), math.floor(s.start + 1e-9) + 1) - 1)
        for aid, s in schedule.slots.items()
    }
    sequential = sum(counts[a.id] for a in agents if a.id in winners)
    return CyclePlan(first=first, sequential=sequential, parallel=schedule.makespan, ranges=ranges)


def build_plan(spec: Spec, max_parallel: int | None = None, sim_speed: float = 1.0) -> Plan:
    """The plan of `spec`; `max_parallel` overrides `[run] max_parallel` (0: no limit);
    `sim_speed` is a run's `--speed` (sim agents then take duration / speed)."""
    speed = sim_speed if math.isfinite(sim_speed) and sim_speed > 0 else 1.0
    agents = [plan_agent(spec, a, speed) for a in spec.agents]
    cap = spec.run.max_parallel if max_parallel is None else max_parallel
    schedule = simulate(agents)
    capped = simulate(agents, cap) if cap > 0 else None
    winners = {a.id for a in agents if not (a.id in schedule.slots and schedule.slots[a.id].lost)}
    winners -= set(schedule.never)
    sequential = sum(a.duration or 0.0 for a in agents if a.id in winners)
    parallel = schedule.makespan
    span = schedule.makespan
    busy = _busy(schedule)
    lanes = len(agents)
    capped_lanes = min(len(agents), cap)
    return Plan(
        agents=agents,
        sequential_s=sequential,
        parallel_s=parallel,
        capped_s=capped.makespan if capped is not None else None,
        max_parallel=cap,
        critical_path=critical_path(schedule),
        peak=_peak(schedule),
        average=busy / span if span > 0 else 0.0,
        utilization_sequential=1.0 / lanes if sequential > 0 else 0.0,
        utilization=busy / (lanes * span) if span > 0 else 0.0,
        capped_peak=_peak(capped) if capped is not None else None,
        capped_utilization=(
            _busy(capped) / (capped_lanes * capped.makespan) if capped is not None and capped.makespan > 0 else None
        ),
        longest_s=max((a.duration or 0.0 for a in agents if a.id in winners), default=0.0),
        schedule=schedule,
        capped=capped,
        missing=[a.id for a in agents if a.duration is None],
        cycle_s=spec.run.cycle,
        cycles=_cycle_plan(spec, agents, winners),
    )


def fmt_duration(seconds: float | None) -> str:
    """2h, 1.5h, 90m, 45s, 0.25s: the unit the reference writes its tables in."""
    if seconds is None:
        return "—"
    if seconds >= 3600:
        return f"{seconds / 3600:.4g}h"
    if seconds >= 60:
        return f"{seconds / 60:.4g}m"
    return f"{seconds:.3g}s"


def fmt_cycles(count: float) -> str:
    return f"{count:.3g} cycle{'' if count == 1 else 's'}"


def plan_bars(plan: Plan, width: int) -> list[tuple[str, str, str]]:
    """A small Gantt of the plan as (agent id, bar, note) rows; the bar is `width` cells of
    '█' (planned work, '▒' for a race member cut short) and '·'."""
    schedule = plan.capped if plan.capped is not None else plan.schedule
    span = schedule.makespan
    rows: list[tuple[str, str, str]] = []
    cells = max(width, 4)
    for a in plan.agents:
        slot = schedule.slots.get(a.id)
        if slot is None or span <= 0:
            rows.append((a.id, "·" * cells, "never starts" if a.id in schedule.never else "no estimate"))
            continue
        lo = round(slot.start / span * cells)
        hi = max(round(slot.end / span * cells), lo + (1 if slot.end > slot.start else 0))
        mark = "▒" if slot.lost else "█"
        bar = "·" * lo + mark * (hi - lo) + "·" * (cells - hi)
        note = f"{fmt_duration(slot.start)}–{fmt_duration(slot.end)}"
        if plan.cycles is not None and a.id in plan.cycles.ranges:
            first, last = plan.cycles.ranges[a.id]
            note += f"  cycle {first}-{last}"
        if slot.lost:
            note += "  race lost"
        rows.append((a.id, bar, note))
    return rows
