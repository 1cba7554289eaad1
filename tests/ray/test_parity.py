"""The same run, wherever it ran: each spec runs with executor "local" and "ray" (a local
Ray instance) and the recorded events must agree: each agent's event types in order, the
order rules, the statuses and reasons, and the metrics within a tolerance (a Ray host adds
a few milliseconds per agent, never the agents' own time)."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from oneie_tui.engine.runner import Runner
from oneie_tui.events import Event, EventType
from oneie_tui.spec.loader import load_spec
from tests.conftest import SPECS
from tests.fakes.process_tools import PY, loaded
from tests.ray.helpers import lifecycle, order_problems, per_agent, run_with, statuses

pytestmark = pytest.mark.usefixtures("local_ray")

ACTIVE_TOLERANCE_S = 0.35  # per agent; the sims here last 0.1-0.4 s at speed 5


def _compare(spec_name: str, tmp_path: Path, speed: float = 5.0) -> tuple[list[Event], list[Event]]:
    spec = load_spec(SPECS / spec_name)
    local, local_events = run_with(spec, "local", tmp_path, speed=speed)
    remote, ray_events = run_with(spec, "ray", tmp_path, speed=speed)
    assert statuses(ray_events) == statuses(local_events)
    # An agent that ran to its end did exactly the same; one cut short by a cancel did the
    # same steps of its life, but how much output it made first depends on timing.
    ended = statuses(local_events)
    local_seq, ray_seq = per_agent(local_events), per_agent(ray_events)
    for agent, (status, _) in ended.items():
        if status == "cancelled":
            assert lifecycle(ray_seq[agent]) == lifecycle(local_seq[agent]), agent
        else:
            assert ray_seq[agent] == local_seq[agent], agent
    assert remote.status == local.status
    assert order_problems(remote, ray_events) == []
    assert order_problems(local, local_events) == []
    lm, rm = local.summary(), remote.summary()
    for a, b in zip(lm["agents"], rm["agents"], strict=True):
        assert (a["id"], a["status"], a["attempts"]) == (b["id"], b["status"], b["attempts"])
        assert abs(a["active_s"] - b["active_s"]) <= ACTIVE_TOLERANCE_S, (a, b)
        assert (a["input_tokens"], a["output_tokens"]) == (b["input_tokens"], b["output_tokens"])
    # Whole-run figures: the same within the per-agent tolerance (course-crud's two
    # critical paths tie, so the path's name is not compared).
    assert abs(rm["sequential_s"] - lm["sequential_s"]) <= ACTIVE_TOLERANCE_S * len(lm["agents"])
    return local_events, ray_events


def test_course_crud_is_the_same_on_ray(tmp_path: Path) -> None:
    _, events = _compare("course-crud.toml", tmp_path)
    assert {e.actor for e in events if e.type == EventType.AGENT_COMPLETED} == {
        "agent-backend", "agent-frontend", "agent-quality",
    }


def test_design_race_is_the_same_on_ray(tmp_path: Path) -> None:
    _, events = _compare("design-race.toml", tmp_path)
    assert any(e.metadata.get("race_lost") for e in events)


def test_failure_cascade_is_the_same_on_ray(tmp_path: Path) -> None:
    _, events = _compare("failure-cascade.toml", tmp_path)
    reasons = [str(e.metadata.get("reason", "")) for e in events if e.type == EventType.AGENT_CANCELLED]
    assert reasons and all(r.startswith("cascade: agent-backend failed") for r in reasons)


def test_command_spec_with_oneie_emit_is_the_same_on_ray(tmp_path: Path) -> None:
    # `oneie emit` from a child process reaches the run through the host's channel.
    _, events = _compare("command-checks.toml", tmp_path, speed=1.0)
    via = [e for e in events if e.type == EventType.TASK_EVENT and e.metadata.get("via") == "oneie emit"]
    assert [e.action for e in via] == ["tests_passed"]


TICKER = [PY, "-u", "-c", (
    "import os, time\n"
    "print('pid', os.getpid(), flush=True)\n"
    "for i in range(400):\n"
    "    print('tick', i, flush=True)\n"
    "    time.sleep(0.05)\n"
)]


def _proc_state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return "gone"


async def _until(cond: object, seconds: float = 30.0) -> None:
    with anyio.fail_after(seconds):
        while not cond():  # type: ignore[operator]
            await anyio.sleep(0.05)


def _pause_cancel_run(executor: str, tmp_path: Path) -> tuple[list[Event], list[str]]:
    """Pause a running command (its process stops on its node), resume it (it goes on),
    then cancel it (its process is gone before the agent's end is recorded)."""
    spec = loaded([{"id": "ticker", "task": "tick", "command": {"argv": TICKER}}])
    seen: list[str] = []

    async def control(runner: Runner) -> None:
        pid_line: list[int] = []

        def pid_known() -> bool:
            for e in events:
                text = str(e.metadata.get("text", ""))
                if e.type == EventType.AGENT_OUTPUT and text.startswith("pid "):
                    pid_line.append(int(text.split()[1]))
                    return True
            return False

        await _until(pid_known)
        pid = pid_line[0]
        await anyio.sleep(0.3)
        assert runner.pause("ticker")
        await _until(lambda: _proc_state(pid) == "T")
        seen.append(_proc_state(pid))
        ticks = sum(e.type == EventType.AGENT_OUTPUT for e in events)
        await anyio.sleep(0.4)
        seen.append("still" if sum(e.type == EventType.AGENT_OUTPUT for e in events) <= ticks + 1 else "moved")
        assert runner.resume("ticker")
        await _until(lambda: _proc_state(pid) in ("S", "R"))
        await anyio.sleep(0.3)
        assert runner.cancel("ticker", "stopped by the test")
        await _until(lambda: runner.agents["ticker"].terminal)
        seen.append(_proc_state(pid))

    events: list[Event] = []

    async def watch_then_control(runner: Runner) -> None:
        runner.bus.subscribe(events.append)
        await control(runner)

    _, recorded = run_with(spec, executor, tmp_path, speed=1.0, controller=watch_then_control)
    return recorded, seen


def _shape(events: list[Event]) -> list[str]:
    """The agent's life without its output, and whether it printed after the resume.
    (A line printed just before SIGSTOP may arrive after `agent_paused`, on either
    executor: the order across the pause is the pipe's, so it is not compared.)"""
    names = per_agent(events)["ticker"]
    after_resume = names[names.index(EventType.AGENT_RESUMED):]
    return [*lifecycle(names), f"output after resume: {EventType.AGENT_OUTPUT in after_resume}"]


def test_pause_resume_cancel_is_the_same_on_ray(tmp_path: Path) -> None:
    local_events, local_seen = _pause_cancel_run("local", tmp_path)
    ray_events, ray_seen = _pause_cancel_run("ray", tmp_path)
    assert local_seen == ray_seen == ["T", "still", "gone"]
    assert _shape(ray_events) == _shape(local_events)
    assert statuses(ray_events) == statuses(local_events) == {
        "ticker": ("cancelled", "stopped by the test")
    }


ECHO = [PY, "-c", "import sys\nfor line in sys.stdin:\n    print('heard', line.strip(), flush=True)\n    if 'stop' in line: break"]


def _messages_run(executor: str, tmp_path: Path) -> tuple[list[tuple[str, str]], list[str]]:
    """A message to a running command agent (a line on its stdin, on its node) and to a
    running sim agent; then a follow-up to the finished command agent."""
    spec = loaded([
        {"id": "echo", "task": "listen", "command": {"argv": ECHO, "stdin": True}},
        {"id": "sim", "backend": "sim", "task": "work", "sim": {"duration": 3.0}},
    ])
    events: list[Event] = []

    def said(agent: str, text: str) -> bool:
        return any(e.type == EventType.AGENT_OUTPUT and e.actor == agent and e.metadata.get("text") == text for e in events)

    async def control(runner: Runner) -> None:
        runner.bus.subscribe(events.append)
        await _until(lambda: runner.agents["echo"].status == "running" and runner.agents["sim"].status == "running")
        assert runner.send_message("sim", "use UUID keys") is None
        assert runner.send_message("echo", "hello there") is None
        await _until(lambda: said("echo", "heard hello there") and said("sim", "message received: use UUID keys"))
        assert runner.send_message("echo", "stop now") is None
        await _until(lambda: runner.agents["echo"].status == "completed")
        assert runner.send_message("echo", "once more, stop") is None  # a follow-up attempt
        await _until(lambda: runner.agents["echo"].attempt == 2 and runner.agents["echo"].status == "completed")

    _, recorded = run_with(spec, executor, tmp_path, speed=1.0, controller=control)
    messages = [(e.actor, str(e.metadata["delivery"])) for e in recorded if e.type == EventType.AGENT_MESSAGE]
    heard = [str(e.metadata["text"]) for e in recorded if e.type == EventType.AGENT_OUTPUT and e.actor == "echo"]
    return messages, heard


def test_messages_reach_agents_the_same_on_ray(tmp_path: Path) -> None:
    local = _messages_run("local", tmp_path)
    on_ray = _messages_run("ray", tmp_path)
    assert on_ray == local
    assert local[0] == [("sim", "live"), ("echo", "live"), ("echo", "live"), ("echo", "followup")]
    assert local[1] == ["heard hello there", "heard stop now", "heard once more, stop"]
