"""The plan's arithmetic (views/plan.py) against the reference's own tables and examples."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oneie_tui.spec.loader import SpecError, load_spec, parse_spec_text
from oneie_tui.spec.model import parse_duration
from oneie_tui.views.plan import build_plan, fmt_duration, plan_bars
from tests.conftest import SPECS


# Pattern, sequential, parallel, speedup: the reference's "Time savings" lines.
@pytest.mark.parametrize(
    ("spec", "sequential", "parallel", "speedup"),
    [
        ("course-crud", 5.0, 2.0, 2.5),  # Pattern 1: 2h + 2h + 1h = 5h; max = 2h
        ("multi-feature", 9.0, 3.0, 3.0),  # Pattern 2: 3h x 3
        ("docs-and-impl", 5.0, 4.0, 1.25),  # Pattern 3: 4h + 1h
        ("payment-squad", 7.0, 2.0, 3.5),  # Pattern 4: 2 + 2 + 1 + 1 + 1
        ("auth-system", 3.0, 1.5, 2.0),  # Example 2: 1.5h + 1.5h
        ("rag-system", 3.0, 1.5, 2.0),  # Example 3
    ],
)
def test_plan_reproduces_the_reference_tables(spec: str, sequential: float, parallel: float, speedup: float) -> None:
    plan = build_plan(load_spec(SPECS / f"{spec}.toml").spec)
    assert plan.sequential_s == pytest.approx(sequential)
    assert plan.parallel_s == pytest.approx(parallel)
    assert plan.speedup == pytest.approx(speedup)
    assert plan.missing == []


def test_utilization_is_the_references_33_to_100_percent() -> None:
    # "Sequential: 1 agent active at a time ... 33%; Parallel: 3 agents active ... 100%"
    plan = build_plan(load_spec(SPECS / "multi-feature.toml").spec)
    assert plan.utilization_sequential == pytest.approx(1 / 3)
    assert plan.utilization == pytest.approx(1.0)
    assert plan.peak == 3
    assert plan.average == pytest.approx(3.0)


def test_the_critical_path_goes_through_the_waits() -> None:
    # workflow: schema_ready at 0.5 starts frontend (2h) and integration (1h); quality
    # waits for both: 0.5 + 2 + 1 = 3.5.
    plan = build_plan(load_spec(SPECS / "workflow.toml").spec)
    assert plan.sequential_s == pytest.approx(7.0)
    assert plan.parallel_s == pytest.approx(3.5)
    assert plan.critical_path == ["agent-backend", "agent-frontend", "agent-quality"]
    assert plan.schedule.slots["agent-integration"].start == pytest.approx(0.5)
    assert plan.peak == 4


def test_max_parallel_queues_first_come_first_served() -> None:
    spec = load_spec(SPECS / "payment-squad.toml").spec
    plan = build_plan(spec, max_parallel=2)
    # 2h, 2h | 1h, 1h | 1h: the slots free at 2h, then at 3h.
    assert plan.parallel_s == pytest.approx(2.0)
    assert plan.capped_s == pytest.approx(4.0)
    assert plan.capped_speedup == pytest.approx(7.0 / 4.0)
    assert plan.capped_peak == 2
    assert plan.capped is not None
    assert plan.capped.slots["agent-designer"].start == pytest.approx(3.0)
    assert build_plan(spec, max_parallel=1).capped_s == pytest.approx(plan.sequential_s)


def test_a_race_counts_its_winner_once() -> None:
    plan = build_plan(load_spec(SPECS / "design-race.toml").spec)
    loser = plan.schedule.slots["design-option-b"]
    assert loser.lost and loser.end == pytest.approx(1.5)
    assert plan.sequential_s == pytest.approx(1.5 + 1.0)
    assert plan.schedule.slots["agent-frontend"].start == pytest.approx(1.5)


COURSE_CRUD_CYCLES = """
[feature]
name = "Course CRUD"
description = "Users create courses with lessons."
acceptance = ["Users can create courses", "Courses can have lessons"]
[feature.ontology]
things = ["course", "lesson"]
connections = ["course_has_lessons", "user_enrolled"]
events = ["course_created", "lesson_completed"]
[run]
backend = "claude"
[[agents]]
id = "agent-backend"
role = "backend"
task = "Course schema, mutations, queries, services"
estimate = "2h"
cycles = "11-20"
emits = ["backend_ready"]
[[agents]]
id = "agent-frontend"
role = "frontend"
task = "Course list, course form, lesson components"
estimate = "2h"
cycles = "21-30"
emits = ["frontend_ready"]
"""


def test_course_crud_example_reproduces_its_cycle_figures() -> None:
    # Example 1: "Cycle 11-20: Backend = 2 hours; Cycle 21-30: Frontend = 2 hours;
    # Total: 4 hours" -> "Cycle 11-30: Backend + Frontend simultaneously = 2 hours; 2x".
    plan = build_plan(parse_spec_text(COURSE_CRUD_CYCLES))
    assert plan.sequential_s == pytest.approx(4 * 3600)
    assert plan.parallel_s == pytest.approx(2 * 3600)
    assert plan.speedup == pytest.approx(2.0)
    assert plan.cycles is not None
    assert plan.cycles.sequential == 20 and plan.cycles.parallel == 10
    assert plan.cycles.saved == 10
    assert plan.cycles.ranges == {"agent-backend": (11, 20), "agent-frontend": (11, 20)}


def test_hundred_cycle_template_saves_ten_cycles() -> None:
    # "Cycle 11-20 Backend, 21-30 Frontend, 31-40 Integration" -> "Cycle 11-30: Backend +
    # Frontend simultaneously; Cycle 31-40: Integration (waits for both)": 10 cycles saved.
    text = COURSE_CRUD_CYCLES + """
[[agents]]
id = "agent-integration"
role = "integration"
task = "Wire course events into the event system"
cycles = "31-40"
after = ["backend_ready", "frontend_ready"]
"""
    plan = build_plan(parse_spec_text(text.replace('[run]\n', '[run]\ncycle = "12m"\n')))
    assert plan.cycles is not None
    assert (plan.cycles.sequential, plan.cycles.parallel, plan.cycles.saved) == (30, 20, 10)
    assert plan.cycles.ranges["agent-integration"] == (21, 30)
    # cycles x [run] cycle is the estimate of an agent that has none: 10 x 12m = 2h.
    assert plan.agents[2].duration == pytest.approx(2 * 3600) and plan.agents[2].source == "cycles"
    assert plan.parallel_s == pytest.approx(4 * 3600)


def test_the_bundled_cycle_plan() -> None:
    plan = build_plan(load_spec(SPECS / "cycle-plan.toml").spec)
    assert plan.cycles is not None
    assert (plan.cycles.sequential, plan.cycles.parallel, plan.cycles.saved) == (30, 20, 10)
    assert plan.critical_path == ["agent-backend", "agent-integration"]  # ties: spec order


def test_ten_cycles_of_a_fifty_cycle_feature_is_the_references_20_percent() -> None:
    # "Time savings: 10 cycles (20% faster)": 10 of the cycles of a feature planned from
    # cycle 1 to 50 (planning before, quality after the three the reference lists).
    text = COURSE_CRUD_CYCLES.replace('[[agents]]', """[[agents]]
id = "agent-planner"
task = "Plan the course feature"
cycles = "1-10"
emits = ["plan_ready"]
[[agents]]""", 1).replace('emits = ["backend_ready"]', 'emits = ["backend_ready"]\nafter = ["plan_ready"]').replace(
        'emits = ["frontend_ready"]', 'emits = ["frontend_ready"]\nafter = ["plan_ready"]'
    ) + """
[[agents]]
id = "agent-integration"
task = "Wire course events into the event system"
cycles = "31-40"
after = ["backend_ready", "frontend_ready"]
emits = ["integration_ready"]
[[agents]]
id = "agent-quality"
task = "Validate the course flows end to end"
cycles = "41-50"
after = ["integration_ready"]
"""
    plan = build_plan(parse_spec_text(text))
    assert plan.cycles is not None
    assert (plan.cycles.sequential, plan.cycles.parallel, plan.cycles.saved) == (50, 40, 10)
    assert plan.cycles.saved_fraction == pytest.approx(0.20)
    assert plan.cycles.ranges["agent-quality"] == (31, 40)


def test_cycle_length_counts_estimates_in_cycles() -> None:
    text = COURSE_CRUD_CYCLES.replace('cycles = "11-20"\n', "").replace('cycles = "21-30"\n', "")
    plan = build_plan(parse_spec_text(text.replace("[run]\n", '[run]\ncycle = "6m"\n')))
    assert plan.cycles is not None
    assert (plan.cycles.sequential, plan.cycles.parallel) == (40, 20)
    assert plan.cycles.saved_fraction == pytest.approx(0.5)
    assert build_plan(parse_spec_text(text)).cycles is None  # nothing to count cycles with


def test_agents_without_an_estimate_are_named() -> None:
    plan = build_plan(load_spec(SPECS / "claude-course-crud.toml").spec)
    assert plan.missing == ["agent-backend", "agent-frontend", "agent-quality"]
    rows = plan_bars(plan, 10)
    assert all(note == "no estimate" for _, _, note in rows)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("2h", 7200.0), ("90m", 5400.0), ("1h30m", 5400.0), ("45s", 45.0), ("1.5h", 5400.0), (90, 90.0)],
)
def test_estimates_are_read_as_seconds(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ['"2x"', '"h"', '""', "-1", "0", "true", '"2h 30"', "1e12"])
def test_bad_estimates_name_the_place(bad: str) -> None:
    with pytest.raises(SpecError) as err:
        parse_spec_text(f'[feature]\nname = "x"\n[[agents]]\nid = "a"\nestimate = {bad}\n', "s.toml")
    assert "s.toml:5: agents[0].estimate:" in str(err.value)


@pytest.mark.parametrize("bad", ['"30-11"', '"0-3"', '"a-b"', "3", '"1-99999"'])
def test_bad_cycle_ranges_name_the_place(bad: str) -> None:
    with pytest.raises(SpecError) as err:
        parse_spec_text(f'[feature]\nname = "x"\n[[agents]]\nid = "a"\ncycles = {bad}\n', "s.toml")
    assert "s.toml:5: agents[0].cycles:" in str(err.value)


def test_fmt_duration_uses_the_references_units() -> None:
    assert [fmt_duration(s) for s in (7200, 5400, 90, 2.0, None)] == ["2h", "1.5h", "1.5m", "2s", "—"]


# --- properties --------------------------------------------------------------------


@st.composite
def squads(draw: st.DrawFn) -> str:
    """A random valid spec: agents with estimates, each waiting on earlier agents' events
    (so no cycles), some in a race, some events with firing times."""
    n = draw(st.integers(1, 8))
    lines = ['[feature]\nname = "p"\n']
    if draw(st.booleans()):
        lines.append(f"[run]\nmax_parallel = {draw(st.integers(0, 4))}\n")
    for i in range(n):
        duration = draw(st.floats(0.1, 50.0, allow_nan=False))
        lines.append(f'[[agents]]\nid = "a{i}"\nemits = ["e{i}_ready", "e{i}_done"]\nestimate = {duration!r}\n')
        if i and draw(st.booleans()):
            waits = draw(st.lists(st.integers(0, i - 1), min_size=1, max_size=3, unique=True))
            kind = draw(st.sampled_from(["after", "after_any"]))
            lines.append(f"{kind} = [{', '.join(repr(f'e{w}_ready') for w in waits)}]\n")
        fraction = draw(st.floats(0.0, 1.0))
        lines.append(f"sim = {{ duration = 1.0, events = {{ e{i}_ready = {fraction!r} }} }}\n")
    return "".join(lines)


@settings(max_examples=150, deadline=None)
@given(squads(), st.integers(0, 5))
def test_parallel_is_never_longer_than_sequential_nor_shorter_than_the_longest(text: str, cap: int) -> None:
    spec = parse_spec_text(text)
    plan = build_plan(spec, max_parallel=cap)
    eps = 1e-9 * max(1.0, plan.sequential_s)
    assert plan.longest_s - eps <= plan.parallel_s <= plan.sequential_s + eps
    if plan.capped_s is not None:
        assert plan.parallel_s - eps <= plan.capped_s <= plan.sequential_s + eps
        assert plan.capped_peak is not None and plan.capped_peak <= cap
    assert plan.peak <= len(spec.agents)
    assert 0.0 <= plan.utilization <= 1.0 + 1e-9
    # Every agent that starts starts after the events it waits for have fired.
    for agent in spec.agents:
        slot = plan.schedule.slots.get(agent.id)
        if slot is not None and agent.after:
            assert all(plan.schedule.slots[f"a{w[1:].split('_')[0]}"].start <= slot.start for w in agent.after)
