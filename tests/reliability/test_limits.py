"""File descriptors and processes are a resource (issue 12, item 5).

Real processes under a real `ulimit -n` (set with setrlimit in the child before exec)."""

from __future__ import annotations

import json
import resource
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.reliability.helpers import PYTHON, no_traceback

AGENTS = 150
NOFILE = 200  # 150 command agents x (2 pipes + a spawn's transient fds) would need far more


def _many(tmp_path: Path, max_parallel: int = 0) -> Path:
    parts = [f'[feature]\nname = "many"\n[run]\nbackend = "command"\nmax_parallel = {max_parallel}\n']
    parts += [f'[[agents]]\nid = "a{i}"\ncommand = {{ argv = ["sleep", "0.3"] }}\n' for i in range(AGENTS)]
    spec = tmp_path / "many.toml"
    spec.write_text("\n".join(parts))
    return spec


def _with_nofile(soft: int) -> Callable[[], None]:
    def preexec() -> None:  # in the child, before exec: like `ulimit -n SOFT`
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard if hard != resource.RLIM_INFINITY else soft))

    return preexec


def _oneie(*args: str, nofile: int, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PYTHON, "-m", "oneie_tui", *args], capture_output=True, text=True,
                          timeout=timeout, preexec_fn=_with_nofile(nofile))


def test_max_parallel_0_queues_under_ulimit_n_and_never_fails_with_emfile(tmp_path: Path) -> None:
    spec = _many(tmp_path)
    result = _oneie("run", str(spec), "--json", "--store", str(tmp_path / "runs.db"), nofile=NOFILE)
    assert no_traceback(result.stderr)
    assert "Too many open files" not in result.stdout + result.stderr  # the old code: every agent
    assert result.returncode == 0, result.stderr[-2000:]
    events = [json.loads(line) for line in result.stdout.splitlines()]
    summary = events[-1]
    assert summary["type"] == "summary" and summary["status"] == "completed"
    assert sum(a["status"] == "completed" for a in summary["agents"]) == AGENTS
    started = next(e for e in events if e.get("type") == "run_started")
    note = started["metadata"]["limit_note"]
    assert note.startswith(f"the open-file limit (ulimit -n {NOFILE}) lets ") and f"of these {AGENTS}" in note
    queued = [e for e in events if e.get("type") == "agent_queued" and "note" in e.get("metadata", {})]
    assert queued and all(e["metadata"]["note"] == f"queued: {note}" for e in queued)


def test_the_headless_progress_shows_the_note(tmp_path: Path) -> None:
    spec = _many(tmp_path)
    result = _oneie("run", str(spec), "--headless", "--store", str(tmp_path / "runs.db"), nofile=NOFILE)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"note: the open-file limit (ulimit -n {NOFILE}) lets" in result.stdout


def test_validate_warns_when_the_spec_cannot_run_fully_parallel(tmp_path: Path) -> None:
    spec = _many(tmp_path)
    tight = _oneie("validate", str(spec), nofile=NOFILE)
    assert tight.returncode == 0
    assert f"{spec}: ok" in tight.stdout
    assert tight.stderr.startswith(f"oneie: warning: {spec}: cannot run fully in parallel here: ")
    assert f"ulimit -n {NOFILE}" in tight.stderr
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    roomy = _oneie("validate", str(spec), nofile=min(4096, hard) if hard != resource.RLIM_INFINITY else 4096)
    assert roomy.returncode == 0 and roomy.stderr == ""
    # A spec that asks for little parallelism is not warned about.
    modest = _oneie("validate", str(_many(tmp_path, max_parallel=4)), nofile=NOFILE)
    assert modest.returncode == 0 and modest.stderr == ""


def test_the_process_limit_counts_for_a_user_other_than_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """Root is exempt from RLIMIT_NPROC and the interpreter here is not readable by another
    user, so this one is arithmetic on the real /proc count with the limit and uid faked."""
    from oneie_tui.engine import limits

    tasks = limits.user_tasks(0)
    assert tasks > 1  # this process and its threads at least
    real = resource.getrlimit

    def fake(which: int) -> tuple[int, int]:
        if which == resource.RLIMIT_NPROC:
            return (tasks + limits.PROC_RESERVE + 20, tasks + limits.PROC_RESERVE + 20)
        if which == resource.RLIMIT_NOFILE:
            return (65536, 65536)
        return real(which)

    monkeypatch.setattr(limits.resource, "getrlimit", fake)
    monkeypatch.setattr(limits.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(limits.os, "getuid", lambda: 0)  # count the tasks of the uid we measured
    cap = limits.capacity(["command"] * 50)
    assert cap.limit is not None and 5 <= cap.limit <= 10  # about 20 free tasks / 2 per agent
    assert "the process limit (ulimit -u" in cap.note
    assert limits.capacity(["sim"] * 50).limit is None
