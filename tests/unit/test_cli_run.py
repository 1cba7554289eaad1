"""`oneie run --headless --json` end to end in a subprocess: exit codes, the NDJSON stream
and its summary line, the example specs' speedups, Ctrl-C (130) and a killed run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from oneie_tui.store.sqlite import RunStore
from tests.conftest import SPECS

SPEED = 5  # the reference's hours become 1/5 s: quick, and far above timer noise


def oneie(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "oneie_tui", *args], capture_output=True, text=True, timeout=timeout
    )


def run_json(spec: str, *extra: str) -> tuple[int, list[dict[str, Any]], dict[str, Any], str]:
    done = oneie("run", str(SPECS / f"{spec}.toml"), "--headless", "--json", "--speed", str(SPEED), *extra)
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert lines, done.stderr
    return done.returncode, lines[:-1], lines[-1], done.stderr


def by_type(events: list[dict[str, Any]], kind: str, actor: str | None = None) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == kind and (actor is None or e["actor"] == actor)]


def fired(events: list[dict[str, Any]], action: str) -> dict[str, Any]:
    return [e for e in events if e["type"] == "task_event" and e["metadata"]["action"] == action][0]


def store() -> RunStore:
    return RunStore(os.environ["ONEIE_STORE"])


def test_a_good_run_exits_0_with_events_then_the_documented_summary() -> None:
    code, events, summary, stderr = run_json("course-crud")
    assert code == 0, stderr
    for e in events:
        assert set(e) == {"seq", "run_id", "ts", "type", "actor", "target", "group", "metadata"}
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[0]["type"] == "run_started" and events[-1]["type"] == "run_finished"
    documented = {"type", "run_id", "status", "wall_s", "sequential_s", "speedup", "utilization", "critical_path_s", "agents"}
    assert documented <= set(summary)
    assert summary["type"] == "summary"
    assert summary["status"] == "completed"
    assert summary["run_id"] == events[0]["run_id"]
    assert [a["id"] for a in summary["agents"]] == ["agent-backend", "agent-frontend", "agent-quality"]
    for a in summary["agents"]:
        assert {"id", "status", "started_s", "ended_s", "active_s"} <= set(a)
        assert a["status"] == "completed"
    schema = fired(events, "schema_ready")
    assert schema["actor"] == "agent-backend" and schema["target"] == "backend"
    # The store holds exactly what was printed.
    row = store().get_run(summary["run_id"])
    assert row.status == "completed"
    assert [e.to_dict() for e in store().events(row.id)] == events
    assert row.summary["speedup"] == summary["speedup"]


@pytest.mark.parametrize(
    ("spec", "speedup"),
    [
        ("course-crud", 2.5),
        ("multi-feature", 3.0),
        ("docs-and-impl", 1.25),
        ("payment-squad", 3.5),
        ("auth-system", 2.0),
        ("rag-system", 2.0),
    ],
)
def test_each_pattern_reproduces_the_reference_speedup(spec: str, speedup: float) -> None:
    code, _, summary, stderr = run_json(spec)
    assert code == 0, stderr
    assert summary["speedup"] == pytest.approx(speedup, rel=0.03)
    assert summary["ideal_speedup"] == pytest.approx(speedup, rel=0.03)


def test_workflow_starts_each_agent_when_its_events_fire() -> None:
    code, events, summary, _ = run_json("workflow")
    assert code == 0
    started = {e["actor"]: e["seq"] for e in by_type(events, "agent_started")}
    schema_ready = fired(events, "schema_ready")["seq"]
    assert started["agent-frontend"] > schema_ready and started["agent-integration"] > schema_ready
    assert started["agent-frontend"] < by_type(events, "agent_completed", "agent-backend")[0]["seq"]
    assert started["agent-quality"] > max(fired(events, "ui_ready")["seq"], fired(events, "integration_ready")["seq"])
    assert started["agent-designer"] < schema_ready  # needs nothing: starts at once
    assert summary["critical_path"] == ["agent-backend", "agent-frontend", "agent-quality"]
    # 7 units of work along a 3.5-unit critical path (0.5 schema + 2 ui + 1 quality).
    assert summary["sequential_s"] == pytest.approx(7 / SPEED, rel=0.03)
    assert summary["critical_path_s"] == pytest.approx(3.5 / SPEED, rel=0.03)


def test_design_race_first_design_wins_and_the_frontend_builds_it() -> None:
    code, events, summary, _ = run_json("design-race")
    assert code == 0  # the loser is not a failure
    assert summary["status"] == "completed"
    agents = {a["id"]: a for a in summary["agents"]}
    assert agents["design-option-a"]["status"] == "completed"
    assert agents["design-option-b"]["status"] == "cancelled"
    assert agents["design-option-b"]["reason"] == "race lost to design-option-a"
    assert agents["agent-frontend"]["status"] == "completed"
    assert by_type(events, "agent_started", "agent-frontend")[0]["seq"] > fired(events, "design_option_a")["seq"]
    assert not [e for e in events if e["type"] == "task_event" and e["metadata"]["action"] == "design_option_b"]
    assert all(e["group"] == "design" for e in events if e["actor"].startswith("design-option"))


def test_failure_cascade_cancels_the_rest_and_exits_1() -> None:
    code, events, summary, _ = run_json("failure-cascade")
    assert code == 1
    assert summary["status"] == "failed"
    agents = {a["id"]: a for a in summary["agents"]}
    assert agents["agent-backend"]["status"] == "failed"
    assert agents["agent-backend"]["reason"] == "schema migration failed: column group_id missing"
    cascade = "cascade: agent-backend failed (schema migration failed: column group_id missing)"
    assert agents["agent-frontend"] == {**agents["agent-frontend"], "status": "cancelled", "reason": cascade}
    assert agents["agent-quality"] == {**agents["agent-quality"], "status": "cancelled", "reason": cascade}
    failed = fired(events, "task_failed")
    assert failed["metadata"]["shouldCancelParallel"] is True
    # It failed one (scaled) second in: before the frontend could finish its two.
    assert agents["agent-backend"]["active_s"] == pytest.approx(1.0 / SPEED, rel=0.2)


def test_sequential_mode_is_the_slow_comparison() -> None:
    code, events, summary, _ = run_json("course-crud", "--sequential")
    assert code == 0
    assert summary["speedup"] == pytest.approx(1.0, rel=0.03)
    starts = [e["seq"] for e in by_type(events, "agent_started")]
    ends = [e["seq"] for e in by_type(events, "agent_completed")]
    assert starts[1] > ends[0] and starts[2] > ends[1]


def test_headless_without_json_prints_a_summary_table() -> None:
    done = oneie("run", str(SPECS / "course-crud.toml"), "--headless", "--speed", "20")
    assert done.returncode == 0
    assert "speedup" in done.stdout and "agent-quality" in done.stdout
    assert "schema_ready" in done.stdout


def _start(spec: Path, speed: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "oneie_tui", "run", str(spec), "--headless", "--json", "--speed", speed],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _read_until_running(proc: subprocess.Popen[str]) -> tuple[str, list[str]]:
    assert proc.stdout is not None
    lines: list[str] = []
    for line in proc.stdout:
        lines.append(line)
        event = json.loads(line)
        if event["type"] == "agent_started":
            return event["run_id"], lines
    raise AssertionError("the run never started an agent")


def test_ctrl_c_exits_130_and_the_store_shows_the_run_cancelled() -> None:
    proc = _start(SPECS / "course-crud.toml", "0.5")  # 4 s: plenty of time to interrupt
    run_id, _ = _read_until_running(proc)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    summary = json.loads(out.splitlines()[-1])
    assert summary["status"] == "cancelled"
    row = store().get_run(run_id)
    assert row.status == "cancelled"
    assert row.ended is not None and row.summary["status"] == "cancelled"
    events = list(store().events(run_id))
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert events[-1].type == "run_finished"
    terminal = {e.actor: e for e in events if e.type == "agent_cancelled"}
    assert set(terminal) == {"agent-backend", "agent-frontend", "agent-quality"}
    assert all(e.metadata["reason"] == "interrupted (Ctrl-C)" for e in terminal.values())


def test_a_killed_run_reads_back_as_interrupted() -> None:
    proc = _start(SPECS / "course-crud.toml", "0.5")
    run_id, _ = _read_until_running(proc)
    proc.kill()
    proc.wait(timeout=30)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    proc.stderr.close()
    reader = store()
    assert reader.get_run(run_id).status == "interrupted"
    assert [r.id for r in reader.list_runs(status="interrupted")] == [run_id]
    assert reader.list_runs(status="running") == []


def test_exit_1_when_an_agent_is_blocked(tmp_path: Path) -> None:
    spec = tmp_path / "blocked.toml"
    spec.write_text(
        '[feature]\nname = "b"\n[run]\non_failure = "continue"\n'
        '[[agents]]\nid = "a"\nemits = ["a_ready"]\nsim = { duration = 0.2, fail_at = 0.1 }\n'
        '[[agents]]\nid = "b"\nafter = ["a_ready"]\n'
    )
    done = oneie("run", str(spec), "--headless", "--json", "--speed", "10")
    assert done.returncode == 1
    summary = json.loads(done.stdout.splitlines()[-1])
    assert {a["id"]: a["status"] for a in summary["agents"]} == {"a": "failed", "b": "blocked"}
