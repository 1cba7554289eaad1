"""The notice detector (notify/detector.py): a pure fold over events with a fake clock."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from oneie_tui.events import Event, EventType
from oneie_tui.notify.detector import Notice, NoticeDetector

RUN = "r1"
_seq = iter(range(1, 10**9))


def ev(kind: str, actor: str = "runner", **metadata: Any) -> Event:
    return Event(next(_seq), RUN, 0.0, str(kind), actor, metadata=metadata)


def started(*agents: str) -> Event:
    return ev(EventType.RUN_STARTED, spec="Squad", agents=list(agents))


def attention(agent: str, reason: str = "permission_denied", **md: Any) -> Event:
    return ev(EventType.AGENT_ATTENTION, agent, reason=reason, **md)


def finished(outcome: str = "completed") -> Event:
    return ev(EventType.RUN_FINISHED, status=outcome.split()[0], outcome=outcome)


def test_a_run_that_ends_is_one_notice_with_its_outcome() -> None:
    d = NoticeDetector(quiet_seconds=30, gather_seconds=0)
    assert d.feed(started("a"), 0.0) == []
    assert d.feed(ev(EventType.AGENT_STARTED, "a"), 0.1) == []
    assert d.feed(ev(EventType.AGENT_COMPLETED, "a"), 1.0) == []
    (notice,) = d.feed(finished("completed (1 cancelled)"), 1.0)
    assert notice.kind == "finished" and notice.run_id == RUN
    assert notice.outcome == "completed (1 cancelled)"
    assert "completed (1 cancelled)" in notice.title and "Squad" in notice.body
    assert d.poll(100.0) == []  # nothing is held back to be sent again


def test_the_same_attention_again_is_not_news() -> None:
    d = NoticeDetector(quiet_seconds=30, gather_seconds=0)
    d.feed(started("a"), 0.0)
    d.feed(ev(EventType.AGENT_STARTED, "a"), 0.0)
    (first,) = d.feed(attention("a", tools=["Write"]), 1.0)
    assert first.kind == "attention" and first.title == "oneie: a needs you"
    assert "tools denied: Write" in first.body
    for t in (2.0, 40.0, 100.0):  # repeated denials of the same attempt: none is news
        assert d.feed(attention("a", tools=["Write"]), t) == []
        assert d.poll(t) == []
    # a new attempt (restart) makes the same need news again
    d.feed(ev(EventType.AGENT_QUEUED, "a", attempt=2), 101.0)
    (again,) = d.feed(attention("a", tools=["Write"]), 102.0)
    assert again.kind == "attention"


def test_a_message_to_the_agent_clears_its_need() -> None:
    d = NoticeDetector(quiet_seconds=0, gather_seconds=0)
    d.feed(started("a"), 0.0)
    assert len(d.feed(attention("a", "question", text="which db?"), 1.0)) == 1
    assert d.needing.keys() == {"a"}
    d.feed(ev(EventType.AGENT_MESSAGE, "a", text="postgres"), 2.0)
    assert d.needing == {}
    assert len(d.feed(attention("a", "question", text="which db?"), 3.0)) == 1


def test_attention_inside_the_quiet_period_is_folded_into_one_notice() -> None:
    d = NoticeDetector(quiet_seconds=30, gather_seconds=0)
    d.feed(started("a", "b", "c", "d"), 0.0)
    (first,) = d.feed(attention("a"), 1.0)
    assert first.agents == ("a",)
    assert d.feed(attention("b", "question", text="ok?"), 5.0) == []
    assert d.feed(attention("c", "blocked"), 10.0) == []
    assert d.feed(attention("d", "failed", text="boom"), 20.0) == []
    assert d.poll(30.9) == []  # the quiet period of the first one is not over
    (folded,) = d.poll(31.0)
    assert folded.title == "oneie: 3 agents need you"
    assert folded.agents == ("b", "c", "d")
    assert "b (asks: ok?)" in folded.body and "d (failed: boom)" in folded.body
    assert d.poll(1000.0) == []


def test_attention_at_the_same_moment_is_gathered_into_one_notice() -> None:
    d = NoticeDetector(quiet_seconds=30, gather_seconds=1.0)
    d.feed(started("a", "b", "c"), 0.0)
    assert d.feed(attention("a", "blocked"), 1.0) == []
    assert d.feed(attention("b", "blocked"), 1.2) == []
    assert d.poll(1.9) == []
    (n,) = d.poll(2.0)
    assert n.title == "oneie: 2 agents need you" and n.agents == ("a", "b")


def test_a_failure_that_ends_the_run_at_once_is_one_notice_its_end() -> None:
    d = NoticeDetector(quiet_seconds=30, gather_seconds=1.0)
    d.feed(started("a", "b"), 0.0)
    assert d.feed(attention("a", "failed", text="boom"), 1.0) == []
    (end,) = d.feed(finished("failed (1 failed, 1 cancelled)"), 1.3)
    assert end.kind == "finished" and "1 needs you: a" in end.body
    assert d.poll(100.0) == []


def test_the_finish_names_who_still_needs_the_user_and_drops_held_attention() -> None:
    d = NoticeDetector(quiet_seconds=30, gather_seconds=0)
    d.feed(started("a", "b"), 0.0)
    d.feed(attention("a"), 1.0)
    d.feed(attention("b"), 2.0)  # held
    (end,) = d.feed(finished("completed"), 3.0)
    assert end.kind == "finished"
    assert "2 need you: a, b" in end.body
    assert d.poll(100.0) == []  # b's held attention is in the finish, not sent after it


def test_waiting_only_on_paused_agents_is_one_stall_notice_once_settled() -> None:
    d = NoticeDetector(quiet_seconds=30, settle_seconds=2.0)
    d.feed(started("a", "b"), 0.0)
    d.feed(ev(EventType.AGENT_STARTED, "a"), 0.0)
    d.feed(ev(EventType.AGENT_WAITING, "b", after=["a_done"]), 0.0)
    assert d.feed(ev(EventType.AGENT_PAUSED, "a"), 1.0) == []
    assert d.poll(2.9) == []  # not settled yet
    (stall,) = d.poll(3.0)
    assert stall.kind == "stalled"
    assert "paused: a" in stall.body and "waiting: b" in stall.body
    assert d.poll(50.0) == []  # the same stall is told once
    # it ends (resumed) and comes back inside the quiet period: told when the period ends
    d.feed(ev(EventType.AGENT_RESUMED, "a", status="running"), 10.0)
    d.feed(ev(EventType.AGENT_PAUSED, "a"), 11.0)
    assert d.poll(20.0) == []
    assert [n.kind for n in d.poll(33.0)] == ["stalled"]


def test_a_pause_of_the_users_own_is_no_stall_a_pause_by_the_radar_is() -> None:
    d = NoticeDetector(quiet_seconds=0, settle_seconds=1.0)
    d.feed(started("a", "b"), 0.0)
    d.feed(ev(EventType.AGENT_STARTED, "a"), 0.0)
    d.feed(ev(EventType.AGENT_WAITING, "b", after=["a_done"]), 0.0)
    d.feed(ev(EventType.AGENT_PAUSED, "a", by="user"), 1.0)  # `p` or `P`: the user knows
    assert d.poll(60.0) == []
    d.feed(ev(EventType.AGENT_RESUMED, "a", status="running"), 61.0)
    d.feed(ev(EventType.AGENT_PAUSED, "a", by="scope"), 62.0)  # the radar paused it
    assert [n.kind for n in d.poll(64.0)] == ["stalled"]


def test_a_moment_with_nothing_running_between_two_agents_is_no_stall() -> None:
    d = NoticeDetector(quiet_seconds=30, settle_seconds=2.0)
    d.feed(started("a", "b"), 0.0)
    d.feed(ev(EventType.AGENT_STARTED, "a"), 0.0)
    d.feed(ev(EventType.AGENT_WAITING, "b", after=["a_done"]), 0.0)
    d.feed(ev(EventType.AGENT_COMPLETED, "a"), 5.0)  # b waits, nothing runs: for an instant
    d.feed(ev(EventType.AGENT_QUEUED, "b"), 5.01)
    d.feed(ev(EventType.AGENT_STARTED, "b"), 5.02)
    assert d.poll(20.0) == []


def test_blocked_agents_end_the_run_they_do_not_stall_it() -> None:
    d = NoticeDetector(quiet_seconds=30, settle_seconds=0.0)
    d.feed(started("a", "b"), 0.0)
    d.feed(ev(EventType.AGENT_STARTED, "a"), 0.0)
    d.feed(ev(EventType.AGENT_WAITING, "b", after=["x_ready"]), 0.0)
    d.feed(ev(EventType.AGENT_FAILED, "a"), 1.0)
    assert d.feed(ev(EventType.AGENT_BLOCKED, "b"), 1.0) == []  # terminal: nothing waits
    assert [n.kind for n in d.feed(finished("failed (1 failed, 1 blocked)"), 1.0)] == ["finished"]


def test_kinds_not_asked_for_are_never_sent() -> None:
    d = NoticeDetector(quiet_seconds=0, kinds=frozenset({"finished"}), settle_seconds=0.0, gather_seconds=0)
    d.feed(started("a"), 0.0)
    assert d.feed(attention("a"), 1.0) == []
    d.feed(ev(EventType.AGENT_PAUSED, "a"), 2.0)
    assert d.poll(10.0) == []
    assert [n.kind for n in d.feed(finished(), 11.0)] == ["finished"]


def test_agent_text_in_a_notice_is_one_safe_line() -> None:
    d = NoticeDetector(quiet_seconds=0, gather_seconds=0)
    d.feed(started("a"), 0.0)
    hostile = "ok\x1b]9;pwned\x07\x1b\\\x9c\u202enext\nline"
    (n,) = d.feed(attention("a", "question", text=hostile), 1.0)
    for text in (n.title, n.body):
        assert text.isprintable()
        assert not any(c in text for c in "\x1b\x07\x9c\n\u202e")
    assert "^[]9;pwned^G" in n.body  # shown, not acted on


# --- random event sequences -------------------------------------------------------

AGENTS = ["a", "b", "c"]
KINDS_OF_EVENT = [
    EventType.AGENT_ATTENTION, EventType.AGENT_MESSAGE, EventType.AGENT_QUEUED,
    EventType.AGENT_WAITING, EventType.AGENT_STARTED, EventType.AGENT_RESUMED,
    EventType.AGENT_PAUSED, EventType.AGENT_COMPLETED, EventType.AGENT_BLOCKED,
    EventType.RUN_STARTED, EventType.RUN_FINISHED, "poll",
]
step = st.tuples(
    st.sampled_from(KINDS_OF_EVENT),
    st.sampled_from(AGENTS),
    st.sampled_from(["permission_denied", "question", "blocked", "failed"]),
    st.integers(1, 3),
    st.floats(0.0, 20.0, allow_nan=False),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(step, max_size=80), st.sampled_from([0.0, 5.0, 30.0]), st.sampled_from([0.0, 1.0]))
def test_never_more_than_one_notice_per_kind_per_quiet_period(
    steps: list[tuple[str, str, str, int, float]], quiet: float, gather: float
) -> None:
    d = NoticeDetector(quiet_seconds=quiet, settle_seconds=1.0, gather_seconds=gather)
    now = 0.0
    sent: list[tuple[float, Notice]] = []
    runs_started = runs_ended = 0
    for kind, agent, reason, attempt, dt in [(EventType.RUN_STARTED, "a", "", 1, 0.0), *steps]:
        now += dt
        if kind == "poll":
            out = d.poll(now)
        elif kind == EventType.RUN_STARTED:
            runs_started += 1
            out = d.feed(started(*AGENTS), now)
        elif kind == EventType.RUN_FINISHED:
            runs_ended += 1
            out = d.feed(finished(), now)
        elif kind == EventType.AGENT_ATTENTION:
            out = d.feed(attention(agent, reason), now)
        else:
            out = d.feed(ev(kind, agent, attempt=attempt, status="running"), now)
        sent += [(now, n) for n in out]
    out = d.poll(now + 10 * quiet + 100)
    sent += [(now + 10 * quiet + 100, n) for n in out]
    for kind in ("finished", "attention", "stalled"):
        times = [t for t, n in sent if n.kind == kind]
        assert all(b - a >= quiet for a, b in zip(times, times[1:], strict=False)), (kind, times)
    # one finish per run end at most, and never a finish without one
    assert sum(1 for _, n in sent if n.kind == "finished") <= runs_ended
    for _, n in sent:
        assert n.title.isprintable() and n.body.isprintable()
