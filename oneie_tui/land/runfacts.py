"""What landing and review need to know of a stored run: its spec, the project folder,
the base commit, each isolated agent's branch, status and review verdict; and a way to
add events to a finished run (the land_* and acceptance_* steps, review marks)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from oneie_tui.events import TERMINAL_STATUS_OF, Event, EventType
from oneie_tui.git.worktree import DEFAULT_DIR, WorktreeError, git, list_worktrees, project_root
from oneie_tui.spec.loader import parse_spec_text
from oneie_tui.spec.model import Spec
from oneie_tui.store.base import RunRow, Store

FACT_TYPES = [
    EventType.RUN_STARTED, EventType.AGENT_INFO, EventType.AGENT_REVIEWED,
    EventType.CONFLICT_DETECTED, EventType.CONFLICT_CLEARED, *TERMINAL_STATUS_OF,
]
MAX_ROWS = 2**31


class RunFactsError(Exception):
    """The run cannot be landed or reviewed (no isolated agents, no repository). Exit 2."""


@dataclass
class RunFacts:
    run: RunRow
    spec: Spec
    root: Path
    worktree_dir: str
    base: str  # the full commit the agents' branches started from
    isolated: list[str]  # agents with a worktree, in spec order
    status: dict[str, str] = field(default_factory=dict)
    verdicts: dict[str, str] = field(default_factory=dict)
    conflicts: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    info: dict[str, dict[str, Any]] = field(default_factory=dict)  # last agent_info facts

    @property
    def run_id(self) -> str:
        return self.run.id

    def default_choice(self) -> list[str]:
        """Accepted agents, and those that completed unless rejected."""
        return [
            a for a in self.isolated
            if self.verdicts.get(a) == "accepted"
            or (self.verdicts.get(a) != "rejected" and self.status.get(a) == "completed")
        ]

    def conflict_of(self, agent_id: str) -> list[str]:
        """Open radar findings naming this agent, as `other (kind)`."""
        out = []
        for (a, b), found in self.conflicts.items():
            if agent_id in (a, b):
                other = b if a == agent_id else a
                out.append(f"{other} ({str(found.get('kind', '')).removeprefix('same_')})")
        return out


def load_facts(store: Store, ref: str) -> RunFacts:
    run = store.get_run(ref)
    spec = parse_spec_text(run.spec_text or "", f"the spec of run {run.id}")
    events = store.events_of_types(run.id, FACT_TYPES, up_to_seq=2**62, limit=MAX_ROWS)
    project = ""
    worktree_dir = spec.run.worktree_dir or DEFAULT_DIR
    facts_status: dict[str, str] = {}
    verdicts: dict[str, str] = {}
    info: dict[str, dict[str, Any]] = {}
    conflicts: dict[tuple[str, str], dict[str, Any]] = {}
    for e in events:
        md = e.metadata
        if e.type == EventType.RUN_STARTED:
            project = str(md.get("project_dir") or project)
            worktree_dir = str(md.get("worktree_dir") or worktree_dir)
        elif e.type == EventType.AGENT_INFO and md.get("branch"):
            info.setdefault(e.actor, {}).update(md)
        elif e.type == EventType.AGENT_REVIEWED:
            verdicts[e.actor] = str(md.get("verdict", ""))
        elif e.type in TERMINAL_STATUS_OF:
            facts_status[e.actor] = TERMINAL_STATUS_OF[e.type]
        elif e.type in (EventType.CONFLICT_DETECTED, EventType.CONFLICT_CLEARED):
            pair = md.get("agents", [])
            if isinstance(pair, list) and len(pair) == 2:
                key = (str(pair[0]), str(pair[1]))
                if e.type == EventType.CONFLICT_DETECTED:
                    conflicts[key] = dict(md)
                else:
                    conflicts.pop(key, None)
    isolated = [a.id for a in spec.agents if (a.isolation or spec.run.isolation) == "worktree"]
    if not isolated:
        raise RunFactsError(
            f"run {run.id} has no agents in worktrees (isolation = \"worktree\"): nothing to land or review"
        )
    try:
        root = project_root(Path(project) if project else Path.cwd())
        # Worktrees still there (a live run, or not pruned yet) know their folder and base.
        for item in list_worktrees(root):
            if item.run_id == run.id and item.agent_id in isolated:
                known = info.setdefault(item.agent_id, {})
                known.setdefault("worktree", str(item.path))
                if item.base:
                    known.setdefault("base", item.base)
        short = next((str(info[a]["base"]) for a in isolated if info.get(a, {}).get("base")), "")
        base = git(["rev-parse", "--verify", f"{short}^{{commit}}"], root).strip() if short else ""
    except WorktreeError as exc:
        raise RunFactsError(str(exc)) from None
    if not base:
        raise RunFactsError(f"run {run.id} recorded no base commit for its worktrees")
    return RunFacts(run, spec, root, worktree_dir, base, isolated, facts_status, verdicts, conflicts, info)


class StoreRecorder:
    """Adds events to a run that is not live (seq continues where the run left off)."""

    def __init__(self, store: Store, run_id: str) -> None:
        self.store = store
        self.run_id = run_id
        self.events: list[Event] = []

    def __call__(self, type: str, actor: str, metadata: dict[str, Any]) -> None:
        seq = self.store.last_seq(self.run_id) + 1
        event = Event(seq, self.run_id, time.time(), str(type), actor, "", "", metadata)
        self.store.insert_events([event])
        self.events.append(event)
