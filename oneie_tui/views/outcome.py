"""A run's outcome in words: what happened, not only the status code.

The status (`completed`, `failed`, `cancelled`, `interrupted`) decides the exit code (1
unless every agent completed, as documented). The outcome says what it means for a reader:
a run where the user cancelled one agent and every other one completed is
`completed (1 cancelled)`, not `failed`; `failed` means an agent failed or the runner did.
A run whose agents completed while the CLI refused some of their tool calls is
`completed with denials (2 denied)`: never a plain success (their work may be missing)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable


def _counts(parts: list[tuple[int, str]]) -> str:
    shown = [f"{n} {word}" for n, word in parts if n]
    return f" ({', '.join(shown)})" if shown else ""


def run_outcome(
    status: str, agent_statuses: Iterable[str], *, runner_failed: bool = False, denials: int = 0
) -> str:
    """`status` of the run, the final status of each agent, whether the runner itself
    failed (a store fault, a bug) and how many tool calls were denied → e.g. `completed`,
    `completed (1 cancelled)`, `completed with denials (3 denied)`,
    `failed (1 failed, 2 cancelled)`, `cancelled (2 of 3 done)`."""
    outcome = _outcome(status, agent_statuses, runner_failed)
    if denials <= 0 or runner_failed:
        return outcome
    head, _, counts = outcome.partition(" (")
    if head == "completed":
        head = "completed with denials"
    inner = counts.removesuffix(")")
    return f"{head} ({inner + ', ' if inner else ''}{denials} denied)"


def _outcome(status: str, agent_statuses: Iterable[str], runner_failed: bool) -> str:
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
