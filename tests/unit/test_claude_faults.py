"""Faults, budgets, pause, resume and cancel of the `claude` backend, against the scripted
server with the real SDK."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import anyio
import pytest

from oneie_tui.engine.runner import Runner
from tests.fakes.anthropic_server import (
    ScriptedAnthropicServer,
    Usage,
    bad_request,
    disconnect,
    emit_event,
    finish,
    mid_stream_error,
    overloaded,
    per_agent,
    rate_limit,
    report_progress,
    server_error,
    unauthorized,
    wait_for_events,
)
from tests.unit.test_claude_backend import ClaudeRun, api_key, run_claude, write_spec  # noqa: F401  (api_key: autouse fixture)

FAST = "claude = { retry_base_delay = 0.01 }"


def one_agent(tmp_path: Path, options: str = FAST, extra: str = "") -> Path:
    return write_spec(
        tmp_path, f'[run]\nbackend = "claude"\n\n[[agents]]\nid = "agent-a"\n{options}\n{extra}'
    )


async def until(predicate: Callable[[], bool], limit: float = 10.0) -> None:
    with anyio.fail_after(limit):
        while not predicate():
            await anyio.sleep(0.01)


def joined(run: ClaudeRun, actor: str = "agent-a") -> list[str]:
    return [line for line in run.output(actor) if not line.startswith(("⚙", "↻", "  ↳", "⛔"))]


# --------------------------------------------------------------------------- retries


def test_429_honours_retry_after_and_each_retry_is_an_event(tmp_path: Path) -> None:
    run = run_claude(
        tmp_path, one_agent(tmp_path), [rate_limit(0.25), rate_limit(0.1, ms=True), finish("ok")]
    )
    assert run.status("agent-a")[0] == "completed"
    retries = run.of("retry", "agent-a")
    assert [e.metadata["status"] for e in retries] == [429, 429]
    assert [e.metadata["retry_after_s"] for e in retries] == [0.25, 0.1]
    assert [e.metadata["delay_s"] for e in retries] == [0.25, 0.1]
    assert [e.metadata["attempt"] for e in retries] == [1, 2]
    reqs = run.server.message_requests()
    assert len(reqs) == 3
    # Our retries, not the SDK's: each request is a first try from the SDK's point of view.
    assert {r.headers.get("x-stainless-retry-count") for r in reqs} == {"0"}
    # The retried request waited at least what the server asked for.
    assert reqs[1].received_at - reqs[0].finished_at >= 0.25  # type: ignore[operator]


def test_529_and_5xx_are_retried_with_backoff(tmp_path: Path) -> None:
    run = run_claude(tmp_path, one_agent(tmp_path), [overloaded(), server_error(503), finish("ok")])
    assert run.status("agent-a")[0] == "completed"
    assert [e.metadata["status"] for e in run.of("retry")] == [529, 503]
    assert "overloaded_error" in run.of("retry")[0].metadata["reason"]


def test_connection_drop_and_timeout_are_retried(tmp_path: Path) -> None:
    opts = "claude = { retry_base_delay = 0.01, request_timeout = 0.3 }"
    slow = finish("late", delay=2.0)
    run = run_claude(
        tmp_path, one_agent(tmp_path, opts), [disconnect("half a line"), slow, finish("ok")]
    )
    assert run.status("agent-a")[0] == "completed"
    reasons = [e.metadata["reason"] for e in run.of("retry")]
    assert reasons[0].startswith("connection error")
    assert reasons[1] == "timed out"


def test_retries_give_up_at_the_limit(tmp_path: Path) -> None:
    opts = "claude = { retry_base_delay = 0.01, max_retries = 2 }"
    run = run_claude(
        tmp_path,
        one_agent(tmp_path, opts),
        [overloaded(), overloaded(), overloaded(), finish("never")],
    )
    status, reason = run.status("agent-a")
    assert status == "failed"
    assert reason.startswith("gave up after 2 retries: 529")
    assert len(run.server.message_requests()) == 3


def test_mid_stream_error_retries_the_turn_without_duplicating_text(tmp_path: Path) -> None:
    partial = Usage(input_tokens=500, cache_read_input_tokens=0, cache_creation_input_tokens=0)
    script = [
        mid_stream_error("Creating the schema.\n", "Tables: cou", usage=partial),
        finish("ok", text=["Creating the schema.\n", "Tables: courses, lessons.\n", "Done.\n"]),
    ]
    run = run_claude(tmp_path, one_agent(tmp_path), script)
    assert run.status("agent-a")[0] == "completed"
    assert joined(run) == ["Creating the schema.", "Tables: courses, lessons.", "Done."]
    retry = run.of("retry")[0].metadata
    assert retry["status"] == 200 and retry["reason"].startswith(
        "mid-stream error (overloaded_error"
    )
    usages = [e.metadata for e in run.of("usage")]
    assert usages[0]["partial"] is True and usages[0]["input_tokens"] == 500
    assert usages[0]["output_tokens"] >= 1
    total = run.runner.agents["agent-a"].usage
    assert total.input_tokens == 500 + usages[1]["input_tokens"]
    # The retried request carries the conversation once: no half-turn was added to it.
    assert (
        run.server.message_requests()[1].body["messages"]
        == run.server.message_requests()[0].body["messages"]
    )


def test_a_retry_that_answers_differently_is_marked_not_spliced(tmp_path: Path) -> None:
    script = [
        mid_stream_error("Plan A: tables\n", "first"),
        finish("ok", text="Plan B: documents\n"),
    ]
    run = run_claude(tmp_path, one_agent(tmp_path), script)
    lines = run.output("agent-a")
    assert "Plan A: tables" in lines
    assert "↻ the retried turn answered differently:" in lines
    assert "Plan B: documents" in lines
    assert not any("firstPlan" in line for line in lines)


@pytest.mark.parametrize(
    ("reply", "status", "hint"),
    [
        (bad_request("max_tokens: too large"), 400, "max_tokens: too large"),
        (unauthorized(), 401, "ANTHROPIC_API_KEY"),
    ],
)
def test_400_and_401_fail_at_once_with_a_clear_message(
    tmp_path: Path, reply: object, status: int, hint: str
) -> None:
    run = run_claude(tmp_path, one_agent(tmp_path), [reply, finish("never")])  # type: ignore[list-item]
    state, reason = run.status("agent-a")
    assert state == "failed"
    assert reason.startswith(f"Anthropic API refused the request: {status}")
    assert hint in reason and "\n" not in reason and "Traceback" not in reason
    assert not run.of("retry")
    assert len(run.server.message_requests()) == 1


# --------------------------------------------------------------------------- budgets


def test_agent_token_budget_cancels_that_agent_only(tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path,
        '[run]\nbackend = "claude"\n\n[[agents]]\nid = "agent-a"\nbudget = { max_tokens = 1000 }\n'
        '\n[[agents]]\nid = "agent-b"\n',
    )
    big = Usage(
        input_tokens=800,
        output_tokens=300,
        cache_creation_input_tokens=0,
        cache_read_input_tokens=0,
    )
    script = per_agent(
        {
            "agent-a": [report_progress(10, usage=big), finish("never")],
            "agent-b": [report_progress(50), finish("b done")],
        }
    )
    run = run_claude(tmp_path, spec, script)
    status, reason = run.status("agent-a")
    assert status == "cancelled"
    assert reason.startswith("budget_exceeded: agent max_tokens")
    exceeded = run.of("budget_exceeded", "agent-a")
    assert len(exceeded) == 1
    assert exceeded[0].metadata == {
        "scope": "agent",
        "limit": "max_tokens",
        "value": 1100,
        "max": 1000,
    }
    assert run.status("agent-b")[0] == "completed"  # a cancelled agent does not cascade
    assert len(run.requests_of("agent-a")) == 1  # no turn after the budget was crossed


def test_agent_cost_and_turn_budgets(tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path,
        '[run]\nbackend = "claude"\non_failure = "continue"\n'
        '\n[[agents]]\nid = "agent-cost"\nbudget = { max_cost_usd = 0.01 }\n'
        '\n[[agents]]\nid = "agent-turns"\nbudget = { max_turns = 2 }\n',
    )
    pricey = Usage(10_000, 1_000, 0, 0)  # $0.02 + $0.01 on sonnet 5.5
    script = per_agent(
        {
            "agent-cost": [report_progress(10, usage=pricey), finish("never")],
            "agent-turns": [report_progress(10), report_progress(20), finish("never")],
        }
    )
    run = run_claude(tmp_path, spec, script)
    assert run.status("agent-cost")[1].startswith(
        "budget_exceeded: agent max_cost_usd ($0.0300 > $0.0100)"
    )
    assert run.status("agent-turns") == (
        "cancelled",
        "budget_exceeded: agent max_turns (2 turns used of 2)",
    )
    assert len(run.requests_of("agent-turns")) == 2


def test_run_budget_stops_every_agent(tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path,
        '[run]\nbackend = "claude"\nbudget = { max_tokens = 5000 }\n'
        '\n[[agents]]\nid = "agent-a"\nemits = ["a_done"]\n'
        '\n[[agents]]\nid = "agent-b"\n'
        '\n[[agents]]\nid = "agent-c"\nafter = ["a_done"]\n',
    )
    u = Usage(input_tokens=2000, output_tokens=10)
    script = per_agent(
        {
            "agent-a": [
                report_progress(10, usage=u),
                report_progress(20, usage=u, delay=0.3),
                finish("x"),
            ],
            "agent-b": [wait_for_events(["a_done"], usage=u), finish("x")],
        }
    )
    run = run_claude(tmp_path, spec, script)
    assert run.runner.status == "cancelled"
    assert run.runner.reason.startswith("budget_exceeded: run max_tokens")
    statuses = {a: run.status(a) for a in ("agent-a", "agent-b", "agent-c")}
    assert all(
        s == "cancelled" and r.startswith("budget_exceeded: run") for s, r in statuses.values()
    )
    assert len(run.of("budget_exceeded")) == 1
    assert run.of("budget_exceeded")[0].metadata["scope"] == "run"


# --------------------------------------------------------------------------- pause, cancel


LINES = [f"line {i:02d} of the schema\n" for i in range(12)]


def chunks() -> list[str]:
    # Each line in three pieces, so a pause lands mid-line.
    return [piece for line in LINES for piece in (line[:4], line[4:9], line[9:])]


def collect_output(runner: Runner) -> list[str]:
    lines: list[str] = []
    runner.bus.subscribe(lambda e: lines.append(str(e.metadata["text"])), "agent_output")
    return lines


def test_pause_mid_stream_keeps_the_stream_open_and_resume_loses_nothing(tmp_path: Path) -> None:
    seen: dict[str, object] = {}

    async def control(runner: Runner, srv: ScriptedAnthropicServer) -> None:
        outputs = collect_output(runner)
        await until(lambda: len(outputs) >= 3)
        assert runner.pause("agent-a")
        await anyio.sleep(0.4)
        req = srv.message_requests()[0]
        seen["open_while_paused"] = req.finished_at is None and not req.disconnected
        assert runner.resume("agent-a")

    script = [finish("ok", text=chunks(), chunk_delay=0.03)]
    run = run_claude(tmp_path, one_agent(tmp_path), script, control=control)
    assert run.status("agent-a")[0] == "completed"
    assert seen["open_while_paused"] is True
    assert joined(run) == [line.rstrip("\n") for line in LINES]
    assert len(run.server.message_requests()) == 1  # the same stream went on: no retry
    paused_at = run.of("agent_paused")[0].seq
    resumed_at = run.of("agent_resumed")[0].seq
    during = [e for e in run.of("agent_output") if paused_at < e.seq < resumed_at]
    assert len(during) <= 1  # at most the line completed by the chunk in hand


def test_cancel_closes_the_stream_and_keeps_partial_output_and_usage(tmp_path: Path) -> None:
    async def control(runner: Runner, srv: ScriptedAnthropicServer) -> None:
        outputs = collect_output(runner)
        await until(lambda: len(outputs) >= 2)
        assert runner.cancel("agent-a", "cancelled by user")
        await until(lambda: srv.message_requests()[0].finished_at is not None)

    script = [finish("ok", text=chunks(), chunk_delay=0.05, usage=Usage(input_tokens=321))]
    run = run_claude(tmp_path, one_agent(tmp_path), script, control=control)
    assert run.status("agent-a") == ("cancelled", "cancelled by user")
    kept = joined(run)
    assert 2 <= len(kept) < len(LINES)
    assert "".join(LINES).startswith("\n".join(kept))  # partial text, in order, nothing invented
    req = run.server.message_requests()[0]
    assert req.disconnected  # the server could not finish: the client closed the stream
    usage = run.of("usage", "agent-a")
    assert len(usage) == 1 and usage[0].metadata["partial"] is True
    assert usage[0].metadata["input_tokens"] == 321
    assert run.runner.agents["agent-a"].usage.input_tokens == 321


def test_cancel_while_waiting_for_events(tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path,
        '[run]\nbackend = "claude"\n\n[[agents]]\nid = "agent-a"\n\n[[agents]]\nid = "agent-b"\nemits = ["b_ready"]\n',
    )

    async def control(runner: Runner, srv: ScriptedAnthropicServer) -> None:
        await until(lambda: runner.agents["agent-a"].status == "waiting")
        runner.cancel("agent-a", "cancelled by user")

    script = per_agent(
        {
            "agent-a": [wait_for_events(["b_ready"]), finish("x")],
            "agent-b": [emit_event("b_ready", delay=1.0), finish("b")],
        }
    )
    run = run_claude(tmp_path, spec, script, control=control)
    assert run.status("agent-a") == ("cancelled", "cancelled by user")
    assert run.status("agent-b")[0] == "completed"
