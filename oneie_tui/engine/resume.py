"""Resume an interrupted run: the same run id, its stored spec, its stored events.

`Runner.restore` keeps what already happened (fired events stay fired, finished agents
stay finished, seq continues gap-free); only agents with no terminal event run again, and
one whose awaited events had fired starts at once. Used by `oneie resume` and the
history screen. No Textual here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from oneie_tui.agents.base import BackendOptions
from oneie_tui.engine.runner import Runner
from oneie_tui.engine.session import RunOptions, build_runner
from oneie_tui.events import EventType
from oneie_tui.spec.loader import LoadedSpec, parse_spec_text
from oneie_tui.store.base import Store


class ResumeError(Exception):
    """This run cannot be resumed. One line for the user."""


@dataclass
class Resumed:
    runner: Runner
    relaunch: list[str]  # agents with no terminal event, launched again
    kept: list[str] = field(default_factory=list)  # agents that ended before: not rerun


def options_of(first_start: dict[str, Any], spec_backend: str, run_id: str) -> RunOptions:
    """The options the run was started with, as far as its run_started event tells."""
    backend = first_start.get("backend")
    sequential = bool(first_start.get("sequential", False))
    max_parallel = first_start.get("max_parallel")
    seed = first_start.get("seed")
    return RunOptions(
        speed=float(first_start.get("speed", 1.0) or 1.0),
        seed=None if seed is None else int(seed),
        sequential=sequential,
        backend=str(backend) if backend and backend != spec_backend else None,
        max_parallel=None if sequential or max_parallel is None else int(max_parallel),
        run_id=run_id,
        executor=str(first_start["executor"]) if first_start.get("executor") else None,
        # the same project folder, wherever `oneie resume` is typed
        backend_options=BackendOptions(
            project_dir=first_start.get("project_dir") or None,
            worktree_dir=first_start.get("worktree_dir") or None,
        ),
    )


def prepare_resume(
    store: Store, ref: str, base_url: str | None = None, *, allow_imported: bool = False
) -> Resumed:
    """A runner restored from the stored run `ref`, ready for `run(relaunch, resume=True)`.
    Raises `ResumeError`, `SpecError` (the stored spec no longer validates) or
    `session.SetupError` (a backend refuses). An imported run is data: its spec came
    from a file, so it is resumed only with `allow_imported` (`--run-imported`)."""
    row = store.get_run(ref)
    if row.damaged:
        raise ResumeError(f"run {row.id} is damaged ({row.damaged}); it can be shown or deleted, not resumed")
    if row.imported and not allow_imported:
        raise ResumeError(
            f"run {row.id} was imported: resuming it would run the commands its file carries."
            f" Replay it instead (oneie replay {row.id}), or pass --run-imported to see them and run them"
        )
    if row.status != "interrupted":
        hint = " (it is still running)" if row.status == "running" else ""
        raise ResumeError(
            f"run {row.id} is {row.status}{hint}; only an interrupted run can be resumed"
        )
    spec = parse_spec_text(row.spec_text, f"the spec stored with run {row.id}")
    loaded = LoadedSpec(spec, Path(row.spec_path) if row.spec_path else None, row.spec_text)
    events = list(store.events(row.id))
    start = next((e.metadata for e in events if e.type == EventType.RUN_STARTED), {})
    options = options_of(start, spec.run.backend, row.id)
    options.backend_options.base_url = base_url
    runner = build_runner(loaded, options, store)
    relaunch = runner.restore(events)
    kept = [a for a in runner.agents if a not in relaunch]
    return Resumed(runner, relaunch, kept)


def what_would_run(resumed: Resumed) -> list[str]:
    """One line per relaunched agent: its backend, the argv it would run and the folder,
    as the spec asks (shown before an imported run is resumed)."""
    runner = resumed.runner
    spec = runner.spec
    project = runner.run_info.get("project_dir") or "the current folder"
    lines = [f"project folder: {project}"]
    for agent_id in resumed.relaunch:
        agent = spec.agent(agent_id)
        backend = spec.backend_of(agent)
        if backend == "command":
            argv, cwd = agent.command.argv, agent.command.cwd or "."
            lines.append(f"{agent_id}: command {argv!r} in {cwd!r}")
        elif backend == "claude-code":
            from oneie_tui.engine.run_support import isolation_of
            from oneie_tui.spec.options.claude_code import permission_mode_of

            opts = agent.claude_code
            mode = permission_mode_of(opts, isolation_of(spec, agent) == "worktree")  # what it runs with
            lines.append(
                f"{agent_id}: claude-code {opts.cli or 'claude'!r} extra args {opts.extra_args!r},"
                f" tools {opts.allowed_tools!r}, permission mode {mode!r}"
            )
        else:
            lines.append(f"{agent_id}: {backend} (runs no local command)")
    return lines
