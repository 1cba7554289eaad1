"""Helpers for the process-backend tests: specs from dicts, running a runner with a
controller coroutine beside it, and reading processes from /proc."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import tomli_w

from oneie_tui.agents.base import BackendOptions
from oneie_tui.engine.runner import Runner
from oneie_tui.engine.session import RunOptions, build_runner
from oneie_tui.events import Event
from oneie_tui.spec.loader import LoadedSpec, parse_spec_text
from oneie_tui.store.sqlite import RunStore

PY = sys.executable
VENV_BIN = str(Path(sys.executable).parent)


def spec_text(agents: list[dict[str, Any]], **run: Any) -> str:
    data: dict[str, Any] = {
        "feature": {"name": "Process test", "description": "process backends under test"},
        "run": {"backend": "command", **run},
        "agents": agents,
    }
    return tomli_w.dumps(data)


def loaded(agents: list[dict[str, Any]], **run: Any) -> LoadedSpec:
    text = spec_text(agents, **run)
    return LoadedSpec(parse_spec_text(text), None, text)


def script(tmp: Path, name: str, body: str) -> str:
    """Write a Python script; returns its path."""
    path = tmp / name
    path.write_text(textwrap.dedent(body))
    return str(path)


Controller = Callable[[Runner], Awaitable[None]]


def run_spec(
    spec: LoadedSpec,
    project: Path,
    *,
    controller: Controller | None = None,
    store: RunStore | None = None,
    base_url: str | None = None,
    resume_sessions: dict[str, str] | None = None,
    run_id: str | None = None,
) -> tuple[Runner, list[Event]]:
    """Build the runner the CLI would build (project folder = `project`), run it to the end
    with `controller` running beside it, and return it with every event."""
    where = BackendOptions(
        base_url=base_url, project_dir=str(project), resume_sessions=dict(resume_sessions or {})
    )
    options = RunOptions(run_id=run_id, backend_options=where)
    runner = build_runner(spec, options, store)
    events: list[Event] = []
    runner.bus.subscribe(events.append)

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            if controller is not None:

                async def control() -> None:
                    await controller(runner)

                tg.start_soon(control)
            await runner.run()
            tg.cancel_scope.cancel()

    anyio.run(main)
    return runner, events


async def wait_until(predicate: Callable[[], object], timeout: float = 30.0, what: str = "") -> None:
    """Poll `predicate` until it holds; fail the test after `timeout` seconds."""
    with anyio.fail_after(timeout):
        while not predicate():
            await anyio.sleep(0.02)
    del what


def outputs(events: list[Event], agent: str | None = None, stream: str | None = None) -> list[str]:
    return [
        str(e.metadata.get("text", ""))
        for e in events
        if e.type == "agent_output"
        and (agent is None or e.actor == agent)
        and (stream is None or e.metadata.get("stream") == stream)
    ]


def of_type(events: list[Event], kind: str, agent: str | None = None) -> list[Event]:
    return [e for e in events if e.type == kind and (agent is None or e.actor == agent)]


def status_of(events: list[Event], agent: str) -> str:
    ends = [e.type[len("agent_") :] for e in events if e.actor == agent and e.type in (
        "agent_completed", "agent_failed", "agent_cancelled", "agent_blocked")]
    return ends[-1] if ends else "none"


# --- /proc ---------------------------------------------------------------------------


def proc_stat(pid: int) -> tuple[str, int, int] | None:
    """(state, pgid, sid) of a live process, None when it is gone. Zombies count as gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rfind(")") + 2 :].split()
    if fields[0] in ("Z", "X"):
        return None
    return fields[0], int(fields[2]), int(fields[3])


def group_members(pgid: int) -> list[int]:
    """Live processes whose process group or session is `pgid`."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = proc_stat(int(name))
            if st is not None and (st[1] == pgid or st[2] == pgid):
                found.append(int(name))
    return found


def alive(pids: list[int]) -> list[int]:
    return [p for p in pids if proc_stat(p) is not None]


def git_repo(path: Path) -> Path:
    """A git repository with one commit."""
    path.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    for args in (["init", "-q", "-b", "main"], ["config", "user.email", "t@example.com"],
                 ["config", "user.name", "t"]):
        subprocess.run(["git", *args], cwd=path, check=True, env=env)
    (path / "README.md").write_text("project\n")
    subprocess.run(["git", "add", "README.md"], cwd=path, check=True, env=env)
    subprocess.run(["git", "commit", "-q", "-m", "init"], cwd=path, check=True, env=env)
    return path


def git_out(repo: Path, *args: str) -> str:
    """What `git ARGS` prints in `repo` (it must succeed)."""
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout


def oneie_with_store(cwd: Path, store: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`oneie ARGS --store STORE` in a subprocess, in `cwd`, on a wide terminal."""
    return subprocess.run(
        [sys.executable, "-m", "oneie_tui", *args, "--store", str(store)],
        cwd=cwd, env={**os.environ, "COLUMNS": "200"}, capture_output=True, text=True, timeout=180, check=False,
    )
