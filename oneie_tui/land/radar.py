"""The conflict radar: while isolated agents run, compare what each worktree changed
since the run's base (committed or not) and tell the run when two agents touch the same
file (`conflict_detected`, kind `same_file`), when a real dry-run merge of their trees
would conflict (kind `same_lines`), and when the overlap is gone (`conflict_cleared`).
It also raises `scope_exceeded` when an agent changes a path outside its `scope`.

Cost is bounded: one scan every `interval` seconds, at most `max_git` git processes at
once, one `git status` per live agent per scan; snapshots and merges only for agents
whose files overlap another's, and only when their content changed since the last look.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import anyio

from oneie_tui.events import TERMINAL_STATUSES, Event, EventType
from oneie_tui.git.worktree import Worktree, WorktreeError
from oneie_tui.land.gitscan import Changes, Scratch, changed_paths
from oneie_tui.land.scope import outside
from oneie_tui.spec.model import Spec

log = logging.getLogger("oneie.radar")
FINAL_SCAN_TIMEOUT = 30.0
MAX_PATHS = 50  # paths named in one event
IDLE = frozenset({"pending", "queued", "waiting"})  # nothing changed yet: not scanned


class _State(Protocol):
    @property
    def status(self) -> str: ...


class RadarHost(Protocol):
    """What the radar needs of the runner."""

    @property
    def agents(self) -> Mapping[str, _State]: ...

    def publish(
        self, type: str, actor: str = "runner", *, target: str = "", metadata: dict[str, Any] | None = None
    ) -> Event: ...

    def pause(self, agent_id: str, *, by: str = "user") -> bool: ...


Pair = tuple[str, str]


@dataclass
class Finding:
    kind: str  # same_file | same_lines
    paths: tuple[str, ...]


@dataclass
class Radar:
    worktrees: Mapping[str, Worktree]
    interval: float = 2.0
    max_git: int = 4
    scopes: Mapping[str, list[str]] = field(default_factory=dict)
    pause_on_scope: bool = False
    git_calls: int = 0  # git processes started so far (the benchmark reads it)
    scans: int = 0
    changes: dict[str, Changes] = field(default_factory=dict)
    findings: dict[Pair, Finding] = field(default_factory=dict)
    _final: set[str] = field(default_factory=set)
    _heads: dict[str, dict[str, frozenset[str]]] = field(default_factory=dict)
    _snapshots: dict[str, tuple[str, str]] = field(default_factory=dict)  # agent → (signature, commit)
    _merges: dict[Pair, list[str]] = field(default_factory=dict)  # (commit, commit) → conflicted
    _reported_outside: dict[str, set[str]] = field(default_factory=dict)
    _scratch: Scratch | None = None
    _limiter: anyio.CapacityLimiter | None = None

    async def run(self, host: RadarHost) -> None:
        """Service: scan every `interval` seconds until the run closes, then once more so
        the run's record ends with the final picture."""
        try:
            while True:
                await self.scan(host)
                await anyio.sleep(self.interval)
        finally:
            with anyio.CancelScope(shield=True), anyio.move_on_after(FINAL_SCAN_TIMEOUT):
                await self.scan(host, final=True)
            self.close()

    def close(self) -> None:
        if self._scratch is not None:
            self._scratch.close()
            self._scratch = None

    async def _git(self, func: Any, *args: Any) -> Any:
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self.max_git)
        return await anyio.to_thread.run_sync(func, *args, limiter=self._limiter)

    async def scan(self, host: RadarHost, *, final: bool = False) -> None:
        self.scans += 1
        due: list[str] = []
        for agent_id in self.worktrees:
            status = host.agents[agent_id].status if agent_id in host.agents else "pending"
            if status in IDLE:
                continue
            if status in TERMINAL_STATUSES:
                if agent_id in self._final:
                    continue
                self._final.add(agent_id)  # one look after the end, then its work is fixed
            else:
                self._final.discard(agent_id)
            due.append(agent_id)
        async with anyio.create_task_group() as tg:
            for agent_id in due:
                tg.start_soon(self._look, agent_id)
        for agent_id in due:
            self._check_scope(host, agent_id)
        await self._compare(host)

    async def _look(self, agent_id: str) -> None:
        wt = self.worktrees[agent_id]
        heads = self._heads.setdefault(agent_id, {})
        try:
            found, calls = await self._git(changed_paths, wt.path, wt.base, heads)
        except WorktreeError as exc:  # the worktree went away: keep the last picture
            log.debug("radar: %s: %s", agent_id, exc)
            return
        self.git_calls += calls
        self.changes[agent_id] = found

    def _check_scope(self, host: RadarHost, agent_id: str) -> None:
        scope = self.scopes.get(agent_id)
        found = self.changes.get(agent_id)
        if not scope or found is None:
            return
        reported = self._reported_outside.setdefault(agent_id, set())
        new = [p for p in outside(scope, found.paths) if p not in reported]
        if not new:
            return
        reported.update(new)
        host.publish(
            EventType.SCOPE_EXCEEDED,
            agent_id,
            metadata={
                "paths": new[:MAX_PATHS],
                "scope": list(scope),
                "on_scope_exceeded": "pause" if self.pause_on_scope else "report",
            },
        )
        if self.pause_on_scope:
            host.pause(agent_id, by="scope")

    async def _snapshot(self, agent_id: str) -> str | None:
        found = self.changes[agent_id]
        cached = self._snapshots.get(agent_id)
        if cached is not None and cached[0] == found.signature:
            return cached[1]
        wt = self.worktrees[agent_id]
        if found.clean and found.head and found.head != "(initial)":
            self._snapshots[agent_id] = (found.signature, found.head)  # committed: no snapshot needed
            return found.head
        if self._scratch is None:
            self._scratch = Scratch(wt.path)
        try:
            commit, calls = await self._git(self._scratch.snapshot, wt.path, wt.base)
        except WorktreeError as exc:
            log.debug("radar: snapshot of %s: %s", agent_id, exc)
            return None
        self.git_calls += calls
        self._snapshots[agent_id] = (found.signature, commit)
        return str(commit)

    async def _kind(self, a: str, b: str, shared: list[str], out: dict[Pair, Finding]) -> None:
        out[(a, b)] = await self._finding(a, b, shared)

    async def _finding(self, a: str, b: str, shared: list[str]) -> Finding:
        ours, theirs = await self._snapshot(a), await self._snapshot(b)
        if self._scratch is None and ours is not None:
            self._scratch = Scratch(self.worktrees[a].path)
        if ours is None or theirs is None or self._scratch is None:
            return Finding("same_file", tuple(shared[:MAX_PATHS]))
        key = (ours, theirs)
        if key not in self._merges:
            try:
                self._merges[key] = await self._git(self._scratch.conflicts, self.worktrees[a].path, ours, theirs)
            except WorktreeError as exc:
                log.debug("radar: merge of %s and %s: %s", a, b, exc)
                return Finding("same_file", tuple(shared[:MAX_PATHS]))
            self.git_calls += 1
        conflicted = self._merges[key]
        if conflicted:
            return Finding("same_lines", tuple(conflicted[:MAX_PATHS]))
        return Finding("same_file", tuple(shared[:MAX_PATHS]))

    async def _compare(self, host: RadarHost) -> None:
        ids = [a for a in self.worktrees if a in self.changes]
        found: dict[Pair, Finding] = {}
        pairs = [
            (a, b, shared)
            for i, a in enumerate(ids)
            for b in ids[i + 1 :]
            if (shared := sorted(self.changes[a].paths & self.changes[b].paths))
        ]
        involved = dict.fromkeys(x for a, b, _ in pairs for x in (a, b))
        async with anyio.create_task_group() as tg:  # one snapshot per agent, shared by its pairs
            for agent_id in involved:
                tg.start_soon(self._snapshot, agent_id)
        async with anyio.create_task_group() as tg:
            for a, b, shared in pairs:
                tg.start_soon(self._kind, a, b, shared, found)
        now = {(a, b): found[(a, b)] for a, b, _ in pairs}  # in a steady order
        for pair, finding in now.items():
            before = self.findings.get(pair)
            if before is None or before != finding:
                host.publish(
                    EventType.CONFLICT_DETECTED,
                    metadata={"agents": list(pair), "paths": list(finding.paths), "kind": finding.kind},
                )
        for pair, finding in self.findings.items():
            if pair not in now:
                host.publish(
                    EventType.CONFLICT_CLEARED, metadata={"agents": list(pair), "paths": list(finding.paths)}
                )
        self.findings = now


def radar_for(worktrees: Mapping[str, Worktree], spec: Spec) -> Radar:
    """The radar a run's spec asks for (`[run.radar]`, each agent's `scope`)."""
    scopes = {a.id: list(a.scope) for a in spec.agents if a.scope and a.id in worktrees}
    return Radar(
        worktrees,
        interval=spec.run.radar.interval,
        max_git=spec.run.radar.max_git,
        scopes=scopes,
        pause_on_scope=spec.run.on_scope_exceeded == "pause",
    )
