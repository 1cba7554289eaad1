"""The shipped process-backend example specs run as documented."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import SPECS


def test_command_checks_example_runs_in_parallel_and_coordinates(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "oneie_tui", "run", str(SPECS / "command-checks.toml"), "--headless", "--json"],
        cwd=tmp_path,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    summary = lines[-1]
    assert summary["type"] == "summary" and summary["status"] == "completed"
    assert {a["id"]: a["status"] for a in summary["agents"]} == {
        "agent-lint": "completed",
        "agent-tests": "completed",
        "agent-build": "completed",
        "agent-release": "completed",
    }
    fired = [e for e in lines[:-1] if e.get("type") == "task_event"]
    assert {e["metadata"]["action"] for e in fired} == {"lint_passed", "tests_passed", "build_ready"}
    assert next(e for e in fired if e["metadata"]["action"] == "tests_passed")["metadata"]["passed"] == 10
    started = {e["actor"]: e["seq"] for e in lines[:-1] if e.get("type") == "agent_started"}
    last_event = max(e["seq"] for e in fired)
    assert max(started["agent-lint"], started["agent-tests"], started["agent-build"]) < min(e["seq"] for e in fired)
    assert started["agent-release"] > last_event
