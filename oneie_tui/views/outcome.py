"""A run's outcome in words: what happened, not only the status code.

The status (`completed`, `failed`, `cancelled`, `interrupted`) decides the exit code (1
unless every agent completed, as documented). The outcome says what it means for a reader:
a run where the user cancelled one agent and every other one completed is
`completed (1 cancelled)`, not `failed`; `failed` means an agent failed or the runner did."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable


def _counts(parts: list[tuple[int, str]]) -> str:
    shown = [f"{n} {word}" for n, word in parts if n]
    return f" ({', '.join(shown)})" if shown else ""


def run_outcome(status: str, agent_statuses: Iterable[str], *, runner_failed: bool = False) -> str:
    """`status` of the run, the final status of each agent, and whether the runner itself
    failed (a store fault, a bug) → e.g. `completed`, `completed (1 cancelled)`,
    `failed (1 failed, 2 cancelled)`, `cancelled (2 of 3 done)`."""
    counts = Counter(agent_statuses)
    failed, cancelled, blocked = counts["failed"], counts["cancelled"], counts["blocked"]
    done, total = counts["completed"], sum(counts.values())
    if status == "failed":
        if runner_failed:
            return "failed (the runner)"
        if failed:
            return "failed" + _counts([(failed, "failed"), (cancelled, "cancelled"), (blocked, "blocked")])
        if blocked:  # nothing failed, but some agents never ran: not "completed"
            return "incomplete" + _counts([(cancelled, "cancelled"), (blocked, "blocked")])
        if cancelled:
            return "completed" + _counts([(cancelled, "cancelled")])
        return "failed"
    if status in ("cancelled", "interrupted") and total:
        return f"{status} ({done} of {total} done)"
    return status


def completed_work(outcome: str) -> bool:
    """Whether the figures of a run with this outcome describe finished work (a speedup of a
    failed or cancelled run compares times of work that did not all happen)."""
    return outcome.startswith("completed")
