"""A run's outcome in words (issue 13 item 5): `failed` only when an agent or the runner failed."""

from __future__ import annotations

import pytest

from oneie_tui.views.outcome import completed_work, run_outcome


@pytest.mark.parametrize(
    ("status", "agents", "runner_failed", "expected"),
    [
        ("completed", ["completed", "completed"], False, "completed"),
        ("failed", ["completed", "completed", "cancelled"], False, "completed (1 cancelled)"),
        ("failed", ["failed", "cancelled", "cancelled"], False, "failed (1 failed, 2 cancelled)"),
        ("failed", ["completed", "cancelled", "blocked"], False, "incomplete (1 cancelled, 1 blocked)"),
        ("failed", ["cancelled", "cancelled"], True, "failed (the runner)"),
        ("cancelled", ["completed", "cancelled", "cancelled"], False, "cancelled (1 of 3 done)"),
        ("interrupted", ["completed", "running"], False, "interrupted (1 of 2 done)"),
        ("running", ["running"], False, "running"),
    ],
)
def test_outcome_says_what_happened(status: str, agents: list[str], runner_failed: bool, expected: str) -> None:
    assert run_outcome(status, agents, runner_failed=runner_failed) == expected


def test_only_completed_work_has_a_speedup() -> None:
    assert completed_work("completed") and completed_work("completed (1 cancelled)")
    assert not completed_work("failed (1 failed)") and not completed_work("cancelled (1 of 3 done)")
