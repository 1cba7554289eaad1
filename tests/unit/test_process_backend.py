"""The `command` backend with small real scripts: streaming, the line protocol, `oneie emit`
from a grandchild, exit codes, and arguments that stay literal (no shell)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from oneie_tui.agents.base import BackendOptions
from oneie_tui.engine.runner import Runner
from oneie_tui.engine.session import RunOptions, SetupError, build_runner
from tests.fakes.process_tools import (
    PY,
    loaded,
    of_type,
    outputs,
    run_spec,
    script,
    status_of,
    wait_until,
)


def test_streams_stdout_and_stderr_and_reads_the_line_protocol(tmp_path: Path) -> None:
    body = script(
        tmp_path,
        "talk.py",
        """
        import sys
        print("hello from stdout")
        print("a warning", file=sys.stderr)
        print("::oneie progress 40 building forms")
        print('::oneie event schema_ready {"tables": 5}')
        print('::oneie usage {"input_tokens": 10, "output_tokens": 3, "cost_usd": 0.5}')
        print("::oneie event NotAnEvent")
        print("::oneie progress 250")
        print("bye")
        """,
    )
    spec = loaded(
        [
            {"id": "talker", "emits": ["schema_ready"], "command": {"argv": [PY, body]}},
            {"id": "waiter", "after": ["schema_ready"], "command": {"argv": [PY, "-c", "print('go')"]}},
        ]
    )
    runner, events = run_spec(spec, tmp_path)
    assert status_of(events, "talker") == "completed"
    assert status_of(events, "waiter") == "completed"
    out = outputs(events, "talker", "stdout")
    assert out == ["hello from stdout", "bye"]
    assert "a warning" in outputs(events, "talker", "stderr")
    bad = [t for t in outputs(events, "talker", "stderr") if "ignored" in t]
    assert len(bad) == 2 and "NotAnEvent" in bad[0] and "250" in bad[1]
    fired = of_type(events, "task_event", "talker")
    assert [(e.action, e.metadata.get("tables")) for e in fired] == [("schema_ready", 5)]
    progress = [e.metadata for e in of_type(events, "agent_progress", "talker")]
    assert {"percent": 40.0, "note": "building forms"} in progress
    usage = of_type(events, "usage", "talker")[0].metadata
    assert usage["input_tokens"] == 10 and usage["output_tokens"] == 3 and usage["cost_usd"] == 0.5
    assert runner.agents["talker"].usage.cost_usd == 0.5
    # The dependent agent started only after the event.
    seq_event = fired[0].seq
    started = of_type(events, "agent_started", "waiter")[0].seq
    assert started > seq_event


def test_oneie_emit_from_a_grandchild_reaches_the_runner(tmp_path: Path) -> None:
    grandchild = script(
        tmp_path,
        "grandchild.py",
        """
        import os, subprocess
        subprocess.run(["oneie", "emit", "schema_ready", "--json", '{"by": "grandchild"}'], check=True)
        subprocess.run(["oneie", "progress", "70", "half", "way"], check=True)
        print("grandchild pid", os.getpid(), "agent", os.environ["ONEIE_AGENT_ID"])
        """,
    )
    child = script(
        tmp_path,
        "child.py",
        f"""
        import subprocess, sys
        subprocess.run([sys.executable, {grandchild!r}], check=True)
        """,
    )
    spec = loaded(
        [
            {"id": "parent", "emits": ["schema_ready"], "command": {"argv": [PY, child]}},
            {"id": "follower", "after": ["schema_ready"], "command": {"argv": [PY, "-c", "print('started')"]}},
        ]
    )
    _, events = run_spec(spec, tmp_path)
    assert status_of(events, "parent") == "completed", outputs(events)
    fired = of_type(events, "task_event", "parent")
    assert [e.action for e in fired] == ["schema_ready"]
    assert fired[0].metadata["by"] == "grandchild"
    assert any(e.metadata.get("percent") == 70.0 and e.metadata.get("note") == "half way"
               for e in of_type(events, "agent_progress", "parent"))
    assert any("emitted schema_ready" in line for line in outputs(events, "parent"))
    assert any(line.endswith("agent parent") for line in outputs(events, "parent"))
    assert status_of(events, "follower") == "completed"


def test_exit_code_decides_and_the_last_stderr_line_is_the_reason(tmp_path: Path) -> None:
    failing = script(
        tmp_path,
        "fail.py",
        """
        import sys
        print("working")
        print("error: the schema is invalid", file=sys.stderr)
        sys.exit(3)
        """,
    )
    spec = loaded([{"id": "bad", "command": {"argv": [PY, failing]}}], on_failure="continue")
    runner, events = run_spec(spec, tmp_path)
    assert status_of(events, "bad") == "failed"
    reason = runner.agents["bad"].reason
    assert "exit code 3" in reason and "the schema is invalid" in reason
    assert runner.status == "failed"


def test_allowed_exit_codes_and_cwd_relative_to_the_project(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    spec = loaded(
        [
            {
                "id": "lenient",
                "command": {
                    "argv": [PY, "-c", "import os, sys; print(os.getcwd()); sys.exit(5)"],
                    "ok_exit_codes": [0, 5],
                    "cwd": "sub",
                    "env": {"GREETING": "hi"},
                },
            }
        ]
    )
    _, events = run_spec(spec, tmp_path)
    assert status_of(events, "lenient") == "completed"
    assert outputs(events, "lenient") == [str(tmp_path / "sub")]


def test_spec_env_is_passed_and_run_variables_are_set(tmp_path: Path) -> None:
    spec = loaded(
        [
            {
                "id": "envy",
                "command": {
                    "argv": [PY, "-c", "import os; print(os.environ['GREETING'], os.environ['ONEIE_AGENT_ID'], os.environ['ONEIE_RUN_ID'])"],
                    "env": {"GREETING": "hi"},
                },
            }
        ]
    )
    runner, events = run_spec(spec, tmp_path)
    assert outputs(events, "envy") == [f"hi envy {runner.run_id}"]


def test_a_store_url_with_a_password_does_not_reach_the_agents(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = loaded([{"id": "nosy", "command": {"argv": [PY, "-c", "import os; print(os.environ.get('ONEIE_STORE', 'none'))"]}}])
    monkeypatch.setenv("ONEIE_STORE", "postgresql://team:s3cret-pw@db.example/oneie")
    _, events = run_spec(spec, tmp_path)
    assert outputs(events, "nosy") == ["none"]
    monkeypatch.setenv("ONEIE_STORE", "postgresql://team@db.example/oneie")  # no secret: kept
    _, events = run_spec(spec, tmp_path)
    assert outputs(events, "nosy") == ["postgresql://team@db.example/oneie"]


def test_shell_metacharacters_stay_literal(tmp_path: Path) -> None:
    nasty = ["; touch pwned", "$(touch pwned2)", "`touch pwned3`", "| touch pwned4", "&& touch pwned5", "*"]
    spec = loaded(
        [{"id": "literal", "command": {"argv": [PY, "-c", "import json, sys; print(json.dumps(sys.argv[1:]))", *nasty]}}]
    )
    _, events = run_spec(spec, tmp_path)
    assert status_of(events, "literal") == "completed"
    assert json.loads(outputs(events, "literal")[0]) == nasty
    assert not list(tmp_path.glob("pwned*"))


def test_long_lines_are_cut_not_lost(tmp_path: Path) -> None:
    spec = loaded(
        [{"id": "long", "command": {"argv": [PY, "-c", "print('x' * 3_000_000); print('after')"]}}]
    )
    _, events = run_spec(spec, tmp_path)
    out = outputs(events, "long")
    assert out[0].endswith("[line cut]") and len(out[0]) < 1_100_000
    assert out[1] == "after"


def test_a_missing_program_or_empty_argv_is_refused_before_the_run(tmp_path: Path) -> None:
    with pytest.raises(SetupError, match="was not found on PATH"):
        build_runner(loaded([{"id": "x", "command": {"argv": ["no-such-program-xyz"]}}]),
                     RunOptions(backend_options=BackendOptions(project_dir=str(tmp_path))), None)
    with pytest.raises(SetupError, match=r"agents\[0\] \(x\): command.argv is empty"):
        build_runner(loaded([{"id": "x"}]), RunOptions(backend_options=BackendOptions(project_dir=str(tmp_path))), None)


def test_a_missing_program_by_path_fails_the_agent(tmp_path: Path) -> None:
    spec = loaded([{"id": "ghost", "command": {"argv": [str(tmp_path / "nope")]}}])
    runner, events = run_spec(spec, tmp_path)
    assert status_of(events, "ghost") == "failed"
    assert "command not found" in runner.agents["ghost"].reason


def test_restart_after_the_run_runs_the_command_again(tmp_path: Path) -> None:
    counter = tmp_path / "count"
    body = script(
        tmp_path,
        "count.py",
        f"""
        from pathlib import Path
        p = Path({str(counter)!r})
        n = int(p.read_text()) + 1 if p.exists() else 1
        p.write_text(str(n))
        import subprocess
        subprocess.run(["oneie", "emit", "count_done", "--json", '{{"n": %d}}' % n], check=True)
        """,
    )
    spec = loaded([{"id": "counter", "emits": ["count_done"], "command": {"argv": [PY, body]}}])

    async def twice(runner: Runner) -> None:
        await wait_until(lambda: runner.agents["counter"].status == "completed")

    runner, events = run_spec(spec, tmp_path, controller=twice)
    assert counter.read_text() == "1"
    # A second run on the same runner (restart after the end) gets a fresh socket.
    import anyio

    async def again() -> None:
        await runner.run(["counter"])

    anyio.run(again)
    assert counter.read_text() == "2"
    assert runner.agents["counter"].status == "completed"
