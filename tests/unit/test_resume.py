"""Resume: what runs again and what does not, after a truncated log or a SIGKILLed run."""

from __future__ import annotations

import functools
import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from oneie_tui.cli import main
from oneie_tui.engine.resume import ResumeError, prepare_resume
from oneie_tui.events import Event
from oneie_tui.store.sqlite import RunStore
from oneie_tui.views.replay_clock import Replay
from oneie_tui.views.run_view import TERMINAL, RunView
from tests.history_support import SPECS, record_run

TERMINAL_TYPES = {f"agent_{s}" for s in TERMINAL}


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def crashed_copy(source: Path, run_id: str, target: Path, cut: int) -> RunStore:
    """`target` holds the run as a process killed after event `cut` leaves it: the events
    up to `cut`, status `running`, and a pid that is gone."""
    a = RunStore(source)
    row = a.get_run(run_id)
    b = RunStore(target)
    b.create_run(run_id, row.spec_name, row.spec_text, row.spec_path, row.started)
    b.insert_events([e for e in a.events(run_id) if e.seq <= cut])
    with sqlite3.connect(target) as conn:
        conn.execute("UPDATE runs SET pid=? WHERE id=?", (dead_pid(), run_id))
    return b


def terminal_agents(events: list[Event]) -> set[str]:
    return {e.actor for e in events if e.type in TERMINAL_TYPES}


def test_truncated_log_resumes_only_the_unfinished_agents(tmp_path: Path) -> None:
    run_id, _ = record_run(tmp_path / "full.sqlite3", "workflow")
    full = list(RunStore(tmp_path / "full.sqlite3").events(run_id))
    # Cut where the integration has finished (so integration_ready fired), schema_ready has
    # fired, and the backend and frontend are still running.
    done_integration = next(
        e.seq for e in full if e.type == "agent_completed" and e.actor == "agent-integration"
    )
    cut = done_integration + 1
    prefix = [e for e in full if e.seq <= cut]
    kept = terminal_agents(prefix)
    assert {"agent-integration", "agent-designer"} <= kept
    assert "agent-backend" not in kept and "agent-frontend" not in kept
    store = crashed_copy(tmp_path / "full.sqlite3", run_id, tmp_path / "crash.sqlite3", cut)
    assert store.get_run(run_id).status == "interrupted"

    resumed = prepare_resume(store, run_id[:12])
    assert set(resumed.kept) == kept
    assert set(resumed.relaunch) == {"agent-backend", "agent-frontend", "agent-quality"}
    anyio.run(functools.partial(resumed.runner.run, resumed.relaunch, resume=True))

    events = list(store.events(run_id))
    assert [e.seq for e in events] == list(range(1, len(events) + 1))  # gap-free
    assert {e.run_id for e in events} == {run_id}
    assert events[: len(prefix)] == prefix  # what happened before is kept as it was
    after = events[len(prefix) :]
    assert after[0].type == "run_started" and after[0].metadata["resumed"] is True
    assert not [e for e in after if e.actor in kept]  # finished agents are not rerun
    for agent in resumed.relaunch:
        before = max(int(e.metadata.get("attempt", 1)) for e in prefix
                     if e.actor == agent and e.type == "agent_queued")
        queued = [e for e in after if e.actor == agent and e.type == "agent_queued"]
        assert queued and queued[0].metadata["attempt"] == before + 1
    # The frontend waited for schema_ready, which had fired: it starts at once, before the
    # relaunched backend fires schema_ready again.
    seq_of = {(e.actor, e.type, e.action): e.seq for e in reversed(after)}
    assert seq_of[("agent-frontend", "agent_started", "")] < seq_of[
        ("agent-backend", "task_event", "schema_ready")
    ]
    # The quality agent still needs ui_ready (integration_ready had fired): it starts
    # right after the frontend fires it, not before.
    assert seq_of[("agent-frontend", "task_event", "ui_ready")] < seq_of[
        ("agent-quality", "agent_started", "")
    ]
    row = store.get_run(run_id)
    assert row.status == "completed"
    view = RunView()
    view.apply_all(events)
    assert {a.status for a in view.agents.values()} == {"completed"}
    replay = Replay(store, run_id)
    replay.to_end()
    assert replay.view.status == "completed"


def test_a_run_killed_after_every_agent_ended_just_finishes(tmp_path: Path) -> None:
    run_id, _ = record_run(tmp_path / "full.sqlite3", "course-crud")
    last = RunStore(tmp_path / "full.sqlite3").last_seq(run_id)
    store = crashed_copy(tmp_path / "full.sqlite3", run_id, tmp_path / "crash.sqlite3", last - 1)
    resumed = prepare_resume(store, run_id)
    assert resumed.relaunch == []
    anyio.run(functools.partial(resumed.runner.run, resumed.relaunch, resume=True))
    events = list(store.events(run_id))
    assert [e.type for e in events[last - 1 :]] == ["run_started", "run_finished"]
    assert store.get_run(run_id).status == "completed"


def test_only_an_interrupted_run_can_be_resumed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "runs.sqlite3"
    run_id, _ = record_run(path, "course-crud")
    with pytest.raises(ResumeError, match="is completed"):
        prepare_resume(RunStore(path), run_id)
    assert main(["resume", run_id, "--store", str(path)]) == 1
    err = capsys.readouterr().err
    assert "only an interrupted run can be resumed" in err and "Traceback" not in err
    assert main(["resume", "no-such-run", "--store", str(path)]) == 1


@pytest.mark.slow
def test_sigkilled_headless_run_resumes_from_the_command_line(tmp_path: Path) -> None:
    store_path = tmp_path / "runs.sqlite3"
    cmd = [sys.executable, "-m", "oneie_tui"]
    proc = subprocess.Popen(
        [*cmd, "run", str(SPECS / "workflow.toml"), "--json", "--speed", "2", "--store", str(store_path)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    assert proc.stdout is not None
    seen_after_designer = -1
    for line in proc.stdout:  # kill once the designer has finished (and a little more)
        e = json.loads(line)
        if e.get("type") == "agent_completed" and e["actor"] == "agent-designer":
            seen_after_designer = 0
        elif seen_after_designer >= 0:
            seen_after_designer += 1
            if seen_after_designer == 5:
                break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    store = RunStore(store_path)
    (row,) = store.list_runs()
    assert row.status == "interrupted"
    prefix = list(store.events(row.id))
    kept = terminal_agents(prefix)
    assert "agent-designer" in kept and "agent-backend" not in kept

    done = subprocess.run(
        [*cmd, "resume", row.id, "--json", "--store", str(store_path)],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "resuming run" in done.stderr
    summary = json.loads(done.stdout.splitlines()[-1])
    assert summary["status"] == "completed"
    events = list(store.events(row.id))
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    after = events[len(prefix) :]
    assert not [e for e in after if e.actor in kept]
    relaunched = {e.actor for e in after if e.type == "agent_queued"}
    assert relaunched == set(summary_agents(summary)) - kept
    assert store.get_run(row.id).status == "completed"


def summary_agents(summary: dict[str, object]) -> list[str]:
    return [str(a["id"]) for a in summary["agents"]]  # type: ignore[index, union-attr]


def test_what_would_run_names_the_permission_mode_the_cli_gets() -> None:
    from oneie_tui.engine.resume import Resumed, what_would_run
    from oneie_tui.engine.runner import Runner
    from oneie_tui.spec.loader import parse_spec_text

    spec = parse_spec_text(
        '[feature]\nname = "x"\n[run]\nbackend = "claude-code"\nisolation = "worktree"\n'
        '[[agents]]\nid = "iso"\n[[agents]]\nid = "here"\nisolation = "none"\n'
        '[[agents]]\nid = "asked"\nclaude_code = { permission_mode = "plan" }\n'
    )
    runner = Runner(spec, lambda agent: None)  # type: ignore[arg-type,return-value]
    lines = what_would_run(Resumed(runner, ["iso", "here", "asked"], []))
    assert lines[1].endswith("permission mode 'acceptEdits'")  # its own worktree: may edit there
    assert lines[2].endswith("permission mode None")  # the CLI's own default
    assert lines[3].endswith("permission mode 'plan'")
