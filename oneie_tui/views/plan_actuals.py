"""A finished run beside its plan: each agent's estimate against its active time, the
planned against the measured speedup (for `oneie show` and the Markdown report).

The plan is rebuilt from the spec text stored with the run and the run's own settings
(`run_started`: speed and max_parallel), so a sim run at `--speed 20` is compared with
a plan at the same speed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from oneie_tui.events import Event, EventType
from oneie_tui.spec.loader import SpecError, parse_spec_text
from oneie_tui.views.metrics import RunMetrics
from oneie_tui.views.plan import Plan, build_plan


@dataclass(frozen=True)
class AgentVsPlan:
    id: str
    estimate_s: float | None
    planned_start_s: float | None
    active_s: float | None
    status: str

    @property
    def ratio(self) -> float | None:
        """Actual over planned time: 1.0 on plan, 2.0 twice as long."""
        if self.estimate_s is None or self.active_s is None or self.estimate_s <= 0:
            return None
        return self.active_s / self.estimate_s


@dataclass(frozen=True)
class PlanVsActual:
    plan: Plan
    agents: list[AgentVsPlan]
    planned_parallel_s: float  # with the run's slot limit
    measured_sequential_s: float
    measured_wall_s: float
    measured_speedup: float
    speed: float = 1.0  # the run's --speed: a cycle of the spec lasts cycle / speed

    @property
    def run_cycle_s(self) -> float | None:
        """One planning cycle in the run's time."""
        return self.plan.cycle_s / self.speed if self.plan.cycle_s else None

    @property
    def planned_speedup(self) -> float:
        return self.plan.sequential_s / self.planned_parallel_s if self.planned_parallel_s > 0 else 0.0

    @property
    def measured_cycles(self) -> float | None:
        cycle = self.run_cycle_s
        return self.measured_wall_s / cycle if cycle else None

    def to_dict(self) -> dict[str, Any]:
        def r(v: float | None) -> float | None:
            return None if v is None else round(v, 4)

        return {
            "planned_sequential_s": r(self.plan.sequential_s),
            "planned_parallel_s": r(self.planned_parallel_s),
            "planned_speedup": r(self.planned_speedup),
            "measured_sequential_s": r(self.measured_sequential_s),
            "measured_wall_s": r(self.measured_wall_s),
            "measured_speedup": r(self.measured_speedup),
            "missing_estimates": self.plan.missing,
            "planned_cycles": None if self.plan.cycles is None else r(self.plan.cycles.parallel),
            "cycles_saved": None if self.plan.cycles is None else r(self.plan.cycles.saved),
            "measured_cycles": r(self.measured_cycles),
            "agents": [
                {"id": a.id, "estimate_s": r(a.estimate_s), "active_s": r(a.active_s), "status": a.status, "ratio": r(a.ratio)}
                for a in self.agents
            ],
        }


def run_settings(events: Iterable[Event]) -> tuple[float, int]:
    """The speed and slot limit the run started with (the first `run_started`)."""
    for e in events:
        if e.type == EventType.RUN_STARTED:
            speed, limit = e.metadata.get("speed", 1.0), e.metadata.get("max_parallel", 0)
            ok_speed = isinstance(speed, int | float) and math.isfinite(speed) and speed > 0
            ok_limit = isinstance(limit, int) and 0 <= limit <= 1_000_000
            return (float(speed) if ok_speed else 1.0), (limit if ok_limit else 0)
    return 1.0, 0


def compare(spec_text: str, metrics: RunMetrics, speed: float = 1.0, max_parallel: int = 0) -> PlanVsActual | None:
    """The run against its plan; None when the stored spec no longer parses."""
    try:
        spec = parse_spec_text(spec_text)
    except SpecError:
        return None
    plan = build_plan(spec, max_parallel, sim_speed=speed)
    schedule = plan.capped if plan.capped is not None else plan.schedule
    rows = []
    for agent in plan.agents:
        m = metrics.agents.get(agent.id)
        slot = schedule.slots.get(agent.id)
        rows.append(
            AgentVsPlan(
                id=agent.id,
                estimate_s=agent.duration,
                planned_start_s=slot.start if slot else None,
                active_s=m.active_s if m and m.attempts else None,
                status=m.status if m else "pending",
            )
        )
    return PlanVsActual(
        plan=plan,
        agents=rows,
        planned_parallel_s=plan.capped_s if plan.capped_s is not None else plan.parallel_s,
        measured_sequential_s=metrics.sequential_s,
        measured_wall_s=metrics.wall_s,
        measured_speedup=metrics.speedup,
        speed=speed if math.isfinite(speed) and speed > 0 else 1.0,
    )
