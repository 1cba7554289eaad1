"""Builds a runner from a spec and the user's options: one path for the CLI and the TUI,
so a run started from the dashboard writes the same records as a headless run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from oneie_tui.agents import BACKENDS, UnknownBackend, backend_class
from oneie_tui.agents.base import AgentBackend, BackendOptions
from oneie_tui.engine.runner import Runner
from oneie_tui.spec.loader import LoadedSpec
from oneie_tui.spec.model import AgentSpec, Spec
from oneie_tui.spec.shared_context import render_shared_context
from oneie_tui.store.base import Store


class SetupError(Exception):
    """A run cannot start (missing key, missing CLI, not a git repo...). One line."""


@dataclass
class RunOptions:
    speed: float = 1.0
    seed: int | None = None
    sequential: bool = False
    backend: str | None = None  # force every agent onto this backend
    max_parallel: int | None = None
    run_id: str | None = None
    executor: str | None = None  # "local" | "ray": overrides [run] executor
    ray_address: str | None = None  # an existing Ray cluster (else $RAY_ADDRESS, else a local one)
    backend_options: BackendOptions = field(default_factory=BackendOptions)


def apply_backend_override(spec: Spec, backend: str | None) -> Spec:
    if not backend:
        return spec
    if backend not in BACKENDS:
        raise SetupError(f"backend {backend!r} is not available (known: {', '.join(sorted(BACKENDS))})")
    data = spec.model_dump()
    data["run"]["backend"] = backend
    for agent in data["agents"]:
        agent["backend"] = None
    return Spec.model_validate(data)


def preflight(spec: Spec, options: RunOptions) -> None:
    """Let each backend in use refuse early (before any agent starts), with one line."""
    for name in sorted({spec.backend_of(a) for a in spec.agents}):
        try:
            backend_class(name).preflight(spec, options.backend_options)
        except UnknownBackend as exc:
            raise SetupError(str(exc)) from None
        except SetupError:
            raise
        except Exception as exc:
            raise SetupError(str(exc)) from None


def build_runner(loaded: LoadedSpec, options: RunOptions, store: Store | None) -> Runner:
    spec = apply_backend_override(loaded.spec, options.backend)
    preflight(spec, options)
    instances: dict[str, AgentBackend] = {}

    def backend_for(agent: AgentSpec) -> AgentBackend:
        name = spec.backend_of(agent)
        if name not in instances:
            try:
                backend = backend_class(name)()
            except UnknownBackend as exc:
                raise SetupError(str(exc)) from None
            try:
                backend.configure(spec, options.backend_options)
            except SetupError:
                raise
            except Exception as exc:  # one line for the user, not a traceback
                raise SetupError(f"backend {name!r}: {exc}") from None
            instances[name] = backend
        return instances[name]

    # Worktrees, the `oneie emit` socket and agent folders for process/isolated agents.
    # First: it adds what backends configure from (the sessions a resumed run continues).
    from oneie_tui.engine.run_support import RunSupportError, hooks_for
    from oneie_tui.engine.runner import new_run_id

    run_id = options.run_id or new_run_id()
    info: dict[str, Any] = {}  # the run's facts for run_started: the control socket's path
    try:
        hooks = hooks_for(spec, run_id, options.backend_options, store, info)
    except RunSupportError as exc:
        raise SetupError(str(exc)) from None
    services, prepare_context, control = hooks.services, hooks.prepare_context, hooks.control

    for agent in spec.agents:  # load and configure every backend now: a bad one is exit 2
        backend_for(agent)
    executor = options.executor or spec.run.executor
    if executor not in ("local", "ray"):
        raise SetupError(f"executor {executor!r} is not available (known: local, ray)")
    run_backend_for: Callable[[AgentSpec], AgentBackend] = backend_for
    if executor == "ray":
        # The one seam: each backend is wrapped so that its run(ctx) happens on a Ray
        # host; the runner, the store and the rules stay here, and know nothing of it.
        from oneie_tui.engine.ray_checkout import stored_placements
        from oneie_tui.engine.ray_executor import RayExecutor, RayExecutorError

        try:
            ray_exec = RayExecutor.start(
                spec, run_id, options.ray_address, options.backend_options,
                worktrees=hooks.worktrees, previous=stored_placements(store, run_id),
            )
        except RayExecutorError as exc:
            raise SetupError(str(exc)) from None
        services = [*services, ray_exec.serve]
        run_backend_for = ray_exec.wrap(backend_for, spec)
    runner = Runner(
        spec,
        run_backend_for,
        run_id=run_id,
        services=services,
        prepare_context=prepare_context,
        store=store,
        spec_text=loaded.text,
        spec_path=str(loaded.path) if loaded.path else None,
        speed=options.speed,
        seed=options.seed,
        sequential=options.sequential,
        max_parallel=options.max_parallel,
        shared_context=render_shared_context(spec),
    )
    runner.run_info = info  # the channel keeps its path here current
    runner.control = control.serve if control is not None else None
    # Where the run's agents work, so `oneie resume` from any folder works in the same place.
    where = options.backend_options
    runner.run_info["project_dir"] = str(Path(where.project_dir or Path.cwd()).resolve())
    if where.worktree_dir:
        runner.run_info["worktree_dir"] = str(where.worktree_dir)
    if executor != spec.run.executor:
        runner.run_info["executor"] = executor  # so `oneie resume` runs it the same way
    return runner
