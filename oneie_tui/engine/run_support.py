"""What a run needs around the runner when agents are processes or work in worktrees.

`session.build_runner` calls `prepare_run` once. It makes each isolated agent's git
worktree (before anything launches, so a missing repository fails the run up front), and
returns the runner's hooks: `prepare_context` gives every agent attempt its folder and the
variables `oneie emit` needs; the services serve the control socket and record each
isolated agent's diff stat (an `agent_info` event with `diff_stat`) when it ends.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from oneie_tui.events import TERMINAL_STATUS_OF, Event, EventType

# control and worktree are imported where used: a sim run pays nothing for them.
if TYPE_CHECKING:
    from oneie_tui.agents.base import AgentContext, BackendOptions
    from oneie_tui.engine.control_socket import ControlChannel
    from oneie_tui.engine.runner import Runner, Service
    from oneie_tui.git.worktree import Worktree
    from oneie_tui.spec.model import AgentSpec, Spec
    from oneie_tui.store.base import Store

PROCESS_BACKENDS = frozenset({"command", "claude-code", "codex", "gemini"})
DIFF_TIMEOUT = 30.0


class RunSupportError(Exception):
    """The run cannot be set up (no git repository, worktree folder outside the project)."""


@dataclass
class RunHooks:
    """What `hooks_for` hands `session.build_runner`."""

    services: list[Service]
    prepare_context: Callable[[AgentContext], None] | None
    control: ControlChannel | None  # the socket `oneie emit` and `oneie send` talk to
    worktrees: dict[str, Worktree]  # isolated agents' (the ray executor ships them to nodes)


@dataclass
class RunSupport:
    run_id: str
    project: Path
    worktrees: dict[str, Worktree] = field(default_factory=dict)
    control: ControlChannel | None = None
    services: list[Service] = field(default_factory=list)

    processes: bool = True  # some agents are processes: they get `oneie emit`'s variables

    def prepare_context(self, ctx: AgentContext) -> None:
        wt = self.worktrees.get(ctx.agent_id)
        if wt is not None:
            ctx.workdir = str(wt.path)
            ctx.env["ONEIE_WORKTREE"] = str(wt.path)
        elif ctx.workdir is None:
            ctx.workdir = str(self.project)
        if self.control is not None and self.processes:
            ctx.env.update(self.control.env_for(ctx))

    async def record_diff_stats(self, runner: Runner) -> None:
        """Service: an `agent_info` event with the diff stat each time an isolated agent
        ends, including those that end as the run closes."""
        send, receive = anyio.create_memory_object_stream[Event](math.inf)

        def on_end(e: Event) -> None:
            if e.type in TERMINAL_STATUS_OF and e.actor in self.worktrees:
                send.send_nowait(e)

        sub = runner.bus.subscribe(on_end)
        try:
            async for ended in receive:
                # Shielded: the run closing must not lose the commit of an agent that ended last.
                with anyio.CancelScope(shield=True), anyio.move_on_after(DIFF_TIMEOUT):
                    await self._record(runner, ended)
        finally:
            runner.bus.unsubscribe(sub)
            with anyio.CancelScope(shield=True), anyio.move_on_after(DIFF_TIMEOUT):
                while True:
                    try:
                        ended = receive.receive_nowait()
                    except (anyio.WouldBlock, anyio.EndOfStream):
                        break
                    await self._record(runner, ended)
            send.close()
            receive.close()

    async def _record(self, runner: Runner, ended: Event) -> None:
        """Commit what the agent left on its branch (so its work is always there to land),
        then record the diff stat."""
        from oneie_tui.git.worktree import WorktreeError, commit_work, diff_stat

        agent_id = ended.actor
        wt = self.worktrees[agent_id]
        status = TERMINAL_STATUS_OF[ended.type]
        summary = str(ended.metadata.get("summary") or ended.metadata.get("reason") or "")
        committed: dict[str, str] = {}
        try:
            commit = await anyio.to_thread.run_sync(commit_work, wt, status, summary)
            if commit:
                committed = {"commit": commit[:12]}
        except WorktreeError as exc:
            committed = {"commit_error": str(exc)}
        try:
            stat = await anyio.to_thread.run_sync(diff_stat, wt.path, wt.base)
        except WorktreeError as exc:
            runner.publish(EventType.AGENT_INFO, agent_id, metadata={**wt.info(), **committed, "diff_error": str(exc)})
            return
        runner.publish(EventType.AGENT_INFO, agent_id, metadata={**wt.info(), **committed, **stat.to_dict()})


def isolation_of(spec: Spec, agent: AgentSpec) -> str:
    return agent.isolation or spec.run.isolation


def prepare_run(
    spec: Spec,
    run_id: str,
    *,
    project_dir: str | os.PathLike[str] | None = None,
    worktree_dir: str | None = None,
    info: dict[str, Any] | None = None,
) -> RunSupport:
    """Worktrees made, control channel ready (bound lazily), hooks to hand the runner."""
    from oneie_tui.engine.control_socket import ControlChannel
    from oneie_tui.git.worktree import (
        DEFAULT_DIR,
        WorktreeError,
        create,
        project_root,
        worktrees_dir,
    )

    project = Path(project_dir) if project_dir else Path.cwd()
    support = RunSupport(run_id, project)
    isolated = [a for a in spec.agents if isolation_of(spec, a) == "worktree"]
    if isolated:
        try:
            root = project_root(project)
            folder = worktrees_dir(root, worktree_dir or spec.run.worktree_dir or DEFAULT_DIR)
            for agent in isolated:
                support.worktrees[agent.id] = create(root, folder, run_id, agent.id)
        except WorktreeError as exc:
            raise RunSupportError(str(exc)) from None
        support.services.append(support.record_diff_stats)
        if spec.run.radar.enabled and (len(isolated) > 1 or any(a.scope for a in isolated)):
            from oneie_tui.land.radar import radar_for  # the conflict radar and scopes

            support.services.append(radar_for(support.worktrees, spec).run)
    # Every run serves the control socket: `oneie send` reaches any agent through it, and
    # process agents' `oneie emit` too. Bound now, so `run_started` records its path.
    support.control = ControlChannel(info)
    support.control.bind()
    support.services.append(support.control.serve)
    return support


def stored_session_ids(store: Store | None, run_id: str | None) -> tuple[dict[str, str], dict[str, str]]:
    """Per agent, from an earlier life of this run: the session it left unfinished (to
    resume) and the one it last completed (a follow-up message continues that one)."""
    if store is None or not run_id:
        return {}, {}
    sessions: dict[str, str] = {}
    finished: dict[str, str] = {}
    try:
        # Only agent_info rows (an indexed query): a long run's output is not read again.
        infos = store.events_of_types(run_id, [EventType.AGENT_INFO], up_to_seq=2**62, limit=2**31)
        for e in infos:
            if e.metadata.get("session_id"):
                if e.metadata.get("session_done"):
                    sessions.pop(e.actor, None)
                    finished[e.actor] = str(e.metadata["session_id"])
                else:
                    sessions[e.actor] = str(e.metadata["session_id"])
    except Exception:  # no such run yet: nothing to resume
        return {}, {}
    return sessions, finished


def hooks_for(
    spec: Spec, run_id: str, options: BackendOptions, store: Store | None,
    info: dict[str, Any] | None = None,
) -> RunHooks:
    """The one call `session.build_runner` makes: the runner's services, prepare_context
    and control channel, and the isolated agents' worktrees (the ray executor ships them
    to nodes); `info` gets the control socket's path. Raises RunSupportError with one line
    when the run cannot be set up."""
    needs = any(
        spec.backend_of(a) in PROCESS_BACKENDS or isolation_of(spec, a) == "worktree"
        for a in spec.agents
    )
    if not needs:  # only the socket `oneie send` talks to: no folders, no variables
        from oneie_tui.engine.control_socket import ControlChannel

        control = ControlChannel(info)
        control.bind()
        return RunHooks([control.serve], None, control, {})
    support = prepare_run(
        spec, run_id, project_dir=options.project_dir, worktree_dir=options.worktree_dir, info=info
    )
    support.processes = any(spec.backend_of(a) in PROCESS_BACKENDS for a in spec.agents)
    unfinished, finished = stored_session_ids(store, run_id)
    options.resume_sessions.update(unfinished)
    options.finished_sessions.update(finished)
    return RunHooks(support.services, support.prepare_context, support.control, support.worktrees)
