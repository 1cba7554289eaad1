"""Running one spec with a given executor and reading what it recorded."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio

from oneie_tui.agents.base import BackendOptions
from oneie_tui.engine.runner import Runner
from oneie_tui.engine.session import RunOptions, build_runner
from oneie_tui.events import TERMINAL_STATUS_OF, Event, EventType
from oneie_tui.spec.loader import LoadedSpec
from oneie_tui.store.sqlite import RunStore

Controller = Callable[[Runner], Awaitable[None]]


def run_with(
    spec: LoadedSpec,
    executor: str,
    project: Path,
    *,
    speed: float = 10.0,
    controller: Controller | None = None,
    store: RunStore | None = None,
) -> tuple[Runner, list[Event]]:
    options = RunOptions(
        speed=speed, executor=executor, backend_options=BackendOptions(project_dir=str(project))
    )
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

    anyio.run(main)
    return runner, events


def per_agent(events: list[Event]) -> dict[str, list[str]]:
    """Each agent's own event types in order (coordination events named by action)."""
    out: dict[str, list[str]] = {}
    for e in events:
        if e.actor == "runner":
            continue
        name = f"task_event:{e.action}" if e.type == EventType.TASK_EVENT else e.type
        out.setdefault(e.actor, []).append(name)
    return out


CHATTER = frozenset({EventType.AGENT_OUTPUT, EventType.AGENT_PROGRESS, EventType.USAGE})


def lifecycle(names: list[str]) -> list[str]:
    """An agent's event types without its output, progress and usage."""
    return [n for n in names if n not in CHATTER]


def statuses(events: list[Event]) -> dict[str, tuple[str, str]]:
    """Each agent's last end: status and reason."""
    return {
        e.actor: (TERMINAL_STATUS_OF[e.type], str(e.metadata.get("reason", "")))
        for e in events
        if e.type in TERMINAL_STATUS_OF
    }


def order_problems(runner: Runner, events: list[Event]) -> list[str]:
    """The order rules: seq gap-free from 1, an agent starts only after what it waits for
    fired, nothing of an agent's attempt follows its end, and the run's end is last."""
    problems: list[str] = []
    seqs = [e.seq for e in events]
    if seqs != list(range(seqs[0], seqs[0] + len(seqs))):
        problems.append("seq is not gap-free")
    fired: dict[str, int] = {}
    ended: dict[str, int] = {}
    for e in events:
        if e.type == EventType.TASK_EVENT and e.action:
            fired.setdefault(e.action, e.seq)
        if e.type == EventType.AGENT_QUEUED:
            ended.pop(e.actor, None)
        if e.type in TERMINAL_STATUS_OF:
            ended[e.actor] = e.seq
        elif e.actor in ended and e.type not in (EventType.TASK_EVENT, "agent_info"):
            problems.append(f"{e.type} of {e.actor} after its end")
        if e.type == EventType.AGENT_STARTED:
            spec = runner.agents[e.actor].spec
            for action in spec.after:
                if action not in fired or fired[action] > e.seq:
                    problems.append(f"{e.actor} started before {action}")
    if events[-1].type not in (EventType.RUN_FINISHED, EventType.RUN_FAILED):
        problems.append("the run's end is not the last event")
    return problems


def remove_node_dirs() -> None:
    """The clones and worktrees the cluster's nodes made for isolated agents (their
    folders outlive a run on purpose: a resume continues in them). Call before
    ray.shutdown: ray.nodes() lists the dead nodes too."""
    import shutil

    import ray

    from oneie_tui.engine.ray_checkout import node_dir_for

    for node in ray.nodes():  # type: ignore[no-untyped-call]
        shutil.rmtree(node_dir_for(str(node["NodeID"])), ignore_errors=True)


def summary_of(runner: Runner) -> dict[str, Any]:
    return runner.summary()
