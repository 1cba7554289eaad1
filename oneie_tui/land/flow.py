"""One landing from start to end, for `oneie land` and the review screen alike: merge the
chosen agents in dependency order, run the acceptance checks on the landed commit,
record `land_finished`, and note the landing in the run's summary for history."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import anyio

from oneie_tui.events import EventType
from oneie_tui.git.worktree import worktrees_dir
from oneie_tui.land.acceptance import CheckResult, run_checks
from oneie_tui.land.landing import Lander, LandResult, Resolve, Target, default_into, landing_order
from oneie_tui.land.resolve import Conflict, Resolved, RunAgent, resolve_conflict
from oneie_tui.land.runfacts import RunFacts, StoreRecorder


@dataclass
class LandOutcome:
    result: LandResult
    checks: list[CheckResult] = field(default_factory=list)
    checks_wanted: int = 0

    @property
    def failed_checks(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.passed]

    @property
    def status(self) -> str:
        if self.result.complete and not self.failed_checks:
            return "landed"
        return "partial" if self.result.landed else "failed"

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.result.to_dict(),
            "status": self.status,
            "acceptance": [c.to_dict() for c in self.checks],
            "checks_skipped": bool(self.checks_wanted) and self.result.dry_run,
        }


async def land_run(
    facts: RunFacts, record: StoreRecorder, chosen: list[str], *, into: str | None = None, dry_run: bool = False,
    resolver: str | None = None, run_agent: RunAgent | None = None,
) -> LandOutcome:
    """Raises LandError (bad target) or WorktreeError (git failed) before anything moved.
    With `resolver` and `run_agent` (which runs that agent), conflicts go to the resolver."""
    order = landing_order(facts.spec, chosen)
    target = Target(into or default_into(facts.run_id), explicit=bool(into))
    resolve: Resolve | None = None
    if resolver and run_agent is not None:
        resolve_dir = worktrees_dir(facts.root, facts.worktree_dir) / facts.run_id / ".resolve"
        agent_runner = run_agent

        def resolve(conflict: Conflict) -> Resolved:  # called from the lander's thread
            return anyio.from_thread.run(resolve_conflict, facts.root, resolve_dir, conflict, resolver, agent_runner)

    lander = Lander(
        facts.root, facts.run_id, facts.base, target, dry_run=dry_run, publish=record,
        resolve=resolve, resolver=resolver or "", tasks={a.id: a.task for a in facts.spec.agents},
    )
    try:
        result = await anyio.to_thread.run_sync(lander.land, order)
    finally:
        lander.close()
    wanted = facts.spec.feature.acceptance_checks()
    outcome = LandOutcome(result, checks_wanted=len(wanted))
    if wanted and not dry_run:
        folder = worktrees_dir(facts.root, facts.worktree_dir) / facts.run_id / ".acceptance"
        outcome.checks = await run_checks(facts.root, folder, result.tip, wanted, record)
    failed = outcome.failed_checks
    record(EventType.LAND_FINISHED, "runner", {
        "status": outcome.status, "into": result.into, "commit": result.tip, "landed": result.landed,
        "left_out": list(result.left_out), "dry_run": dry_run, "resolved_by": result.resolved,
        "checks_passed": len(outcome.checks) - len(failed), "checks_failed": len(failed),
    })
    if not dry_run:  # history shows the last landing beside the run's own summary
        run = facts.run
        land = {"into": result.into, "commit": result.tip, "status": outcome.status,
                "landed": result.landed, "left_out": list(result.left_out), "resolved_by": result.resolved,
                "acceptance": [{"text": c.text, "passed": c.passed} for c in outcome.checks]}
        record.store.finish_run(run.id, run.ended or record.events[-1].ts, run.status, {**run.summary, "land": land})
    return outcome
