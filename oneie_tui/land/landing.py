"""The merge queue behind `oneie land`: the chosen agents' branches merged, in dependency
order, into `oneie/<run>/landed` (made from the run's base commit) or into `--into BRANCH`.

Merges are computed with `git merge-tree --write-tree` and `git commit-tree`, so no
working tree is used: the user's checked-out branch and files stay exactly as they were,
unless the target branch is the one checked out somewhere and the user named it with
`--into` (then that clean worktree is fast-forwarded, nothing else). A branch that does
not merge cleanly is left out, with the paths and the agents it collides with; the rest
lands. A dry run does all of it in a scratch object store and moves no branch.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from oneie_tui.events import EventType
from oneie_tui.git.worktree import WorktreeError, branch_for, git, oneie_env
from oneie_tui.land.gitscan import merge_tree
from oneie_tui.spec.model import Spec

if TYPE_CHECKING:
    from oneie_tui.land.resolve import Conflict, Resolved

Publish = Callable[[str, str, dict[str, Any]], None]  # (type, actor, metadata)
# Hands a conflict to the resolver agent and waits for its result (flow.py runs it).
Resolve = Callable[["Conflict"], "Resolved"]
ZERO = "0" * 40


class LandError(Exception):
    """The landing cannot start (bad target, dirty checkout, unknown agents). Usage: exit 2."""


def landing_order(spec: Spec, chosen: Iterable[str]) -> list[str]:
    """`chosen` in dependency order: an agent whose events another waited on (directly or
    through agents not chosen) comes before it. Among agents free to go, those more
    others wait on go first (foundations before leaves), then the spec's order."""
    emitters = spec.emitters()
    index = {a.id: i for i, a in enumerate(spec.agents)}
    needs = {
        a.id: {e for n in (*a.after, *a.after_any) for e in emitters.get(n, []) if e != a.id}
        for a in spec.agents
    }
    waiters: dict[str, set[str]] = {a: set() for a in index}
    for agent_id, deps in needs.items():
        for dep in deps:
            waiters[dep].add(agent_id)

    def reach(agent_id: str) -> int:  # how many agents wait on this one, at any distance
        seen: set[str] = set()
        todo = [agent_id]
        while todo:
            for nxt in waiters[todo.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return len(seen - {agent_id})

    weight = {a: reach(a) for a in index}
    done: list[str] = []
    placed: set[str] = set()
    left = set(index)
    while left:
        ready = [a for a in left if needs[a] <= placed] or list(left)  # a cycle: best guess
        nxt = min(ready, key=lambda a: (-weight[a], index[a]))
        done.append(nxt)
        placed.add(nxt)
        left.remove(nxt)
    wanted = set(chosen)
    return [a for a in done if a in wanted]


@dataclass
class LeftOut:
    reason: str
    paths: list[str] = field(default_factory=list)
    conflicts_with: list[str] = field(default_factory=list)
    resolver: str = ""  # the resolver agent that tried, and why its work could not land
    resolver_error: str = ""
    resolver_output: str = ""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"reason": self.reason, "paths": self.paths, "conflicts_with": self.conflicts_with}
        if self.resolver:
            out.update(resolver=self.resolver, resolver_error=self.resolver_error)
            if self.resolver_output:
                out["resolver_output"] = self.resolver_output
        return out


@dataclass
class LandResult:
    run_id: str
    into: str
    base: str
    dry_run: bool
    order: list[str]
    start: str = ""
    tip: str = ""
    created: bool = False
    landed: list[str] = field(default_factory=list)
    left_out: dict[str, LeftOut] = field(default_factory=dict)
    resolved: dict[str, str] = field(default_factory=dict)  # agent -> the resolver that merged it
    checked_out_in: str = ""

    @property
    def complete(self) -> bool:
        return not self.left_out

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "into": self.into,
            "base": self.base,
            "dry_run": self.dry_run,
            "order": self.order,
            "commit": self.tip,
            "created": self.created,
            "landed": self.landed,
            "left_out": {a: why.to_dict() for a, why in self.left_out.items()},
            "resolved_by": self.resolved,
        }


@dataclass
class Target:
    branch: str
    explicit: bool  # named with --into


def _ref(root: Path, name: str) -> str | None:
    done = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", f"{name}^{{commit}}"],
        cwd=root, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False,
    )
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else None


def checked_out_at(root: Path, branch: str) -> Path | None:
    """The worktree (the main one included) that has `branch` checked out, if any."""
    path: Path | None = None
    for line in [*git(["worktree", "list", "--porcelain"], root).splitlines(), ""]:
        if line.startswith("worktree "):
            path = Path(line[len("worktree ") :])
        elif line == f"branch refs/heads/{branch}" and path is not None:
            return path
        elif not line:
            path = None
    return None


def _changed(root: Path, base: str, commit: str, env: dict[str, str] | None) -> set[str]:
    out = git(["diff", "--name-only", "-z", "--no-renames", base, commit], root, env)
    return {p for p in out.split("\0") if p}


class Lander:
    """One landing of one run. `publish` records each step as an event of the run."""

    def __init__(
        self, root: Path, run_id: str, base: str, target: Target, *, dry_run: bool, publish: Publish,
        resolve: Resolve | None = None, resolver: str = "", tasks: dict[str, str] | None = None,
    ) -> None:
        """`resolve` (with the resolver's id): conflicts go to the resolver agent instead of
        leaving the branch out; `tasks`: each agent's own task, for the resolver's prompt."""
        self.root = root
        self.resolve = resolve
        self.resolver = resolver
        self.tasks = tasks or {}
        self.run_id = run_id
        self.base = base
        self.target = target
        self.dry_run = dry_run
        self.publish = publish
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.env = self._env()

    def _env(self) -> dict[str, str]:
        env = oneie_env(self.root)
        if self.dry_run:  # every object goes to a scratch store that vanishes afterwards
            common = Path(git(["rev-parse", "--git-common-dir"], self.root).strip())
            common = common if common.is_absolute() else (self.root / common).resolve()
            self._tmp = tempfile.TemporaryDirectory(prefix="oneie-land-")
            objects = Path(self._tmp.name) / "objects"
            objects.mkdir()
            env.update({
                "GIT_OBJECT_DIRECTORY": str(objects),
                "GIT_ALTERNATE_OBJECT_DIRECTORIES": str(common / "objects"),
            })
        return env

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def _prepare(self, result: LandResult) -> None:
        branch = self.target.branch
        try:
            git(["check-ref-format", f"refs/heads/{branch}"], self.root)
        except WorktreeError:
            raise LandError(f"{branch!r} is not a valid branch name") from None
        where = checked_out_at(self.root, branch)
        if where is not None:
            if not self.target.explicit:
                raise LandError(
                    f"{branch} is checked out in {where}; oneie does not touch a checked-out "
                    f"branch unless you name it: --into {branch}"
                )
            dirty = git(["status", "--porcelain", "--untracked-files=no"], where).strip()
            if dirty:
                raise LandError(f"{branch} is checked out in {where} with uncommitted changes; commit or stash them first")
            result.checked_out_in = str(where)
        current = _ref(self.root, f"refs/heads/{branch}")
        result.created = current is None
        result.start = current or self.base
        result.tip = result.start

    def land(self, agents: list[str]) -> LandResult:
        result = LandResult(self.run_id, self.target.branch, self.base, self.dry_run, agents)
        self._prepare(result)
        self.publish(EventType.LAND_STARTED, "runner", {
            "into": result.into, "base": self.base, "order": agents, "dry_run": self.dry_run,
            "created": result.created, **({"resolve_with": self.resolver} if self.resolve else {}),
        })
        touched: dict[str, set[str]] = {}
        for agent_id in agents:
            self._one(result, agent_id, touched)
        if not self.dry_run and result.tip != result.start:
            self._move(result)
        return result

    def _one(self, result: LandResult, agent_id: str, touched: dict[str, set[str]]) -> None:
        branch = branch_for(self.run_id, agent_id)
        commit = _ref(self.root, f"refs/heads/{branch}")
        if commit is None:
            self._leave_out(result, agent_id, LeftOut(f"no branch {branch}"))
            return
        try:
            touched[agent_id] = _changed(self.root, self.base, commit, self.env)
            if _is_ancestor(self.root, commit, result.tip):
                result.landed.append(agent_id)
                self.publish(EventType.AGENT_LANDED, agent_id, {"into": result.into, "commit": result.tip, "already": True})
                return
            tree, conflicted = merge_tree(self.root, result.tip, commit, self.env)
            if conflicted:
                others = [a for a in result.landed if touched.get(a, set()) & set(conflicted)]
                self._conflicted(result, agent_id, branch, commit, LeftOut("conflicts", conflicted, others))
                return
            message = (
                f"oneie land: agent {agent_id} of run {self.run_id}\n\n"
                f"Oneie-Agent: {agent_id}\nOneie-Run: {self.run_id}\n"
            )
            merged = git(["commit-tree", tree, "-p", result.tip, "-p", commit, "-F", "-"], self.root, self.env, message).strip()
        except WorktreeError as exc:
            self._leave_out(result, agent_id, LeftOut(f"git failed: {exc}"))
            return
        result.tip = merged
        result.landed.append(agent_id)
        self.publish(EventType.AGENT_LANDED, agent_id, {"into": result.into, "commit": merged, "branch": branch})

    def _conflicted(self, result: LandResult, agent_id: str, branch: str, commit: str, why: LeftOut) -> None:
        """Hand the conflict to the resolver (if any); its merge commit descends from the
        landed tip, so it lands as a fast-forward. Without one, or if it fails: left out."""
        if self.resolve is None or not self.resolver:
            self._leave_out(result, agent_id, why)
            return
        why.resolver = self.resolver
        if self.dry_run:
            why.resolver_error = "not run (dry run)"
            self._leave_out(result, agent_id, why)
            return
        from oneie_tui.land.resolve import Conflict

        done = self.resolve(Conflict(
            self.run_id, result.into, agent_id, branch, commit, result.tip, why.paths,
            why.conflicts_with, self.tasks.get(agent_id, ""),
        ))
        if done.commit is None:
            why.resolver_error, why.resolver_output = done.reason, done.output_tail
            self._leave_out(result, agent_id, why)
            return
        result.tip = done.commit
        result.landed.append(agent_id)
        result.resolved[agent_id] = self.resolver
        self.publish(EventType.AGENT_LANDED, agent_id, {
            "into": result.into, "commit": done.commit, "branch": branch,
            "resolved_by": self.resolver, "paths": why.paths, "conflicts_with": why.conflicts_with,
        })

    def _leave_out(self, result: LandResult, agent_id: str, why: LeftOut) -> None:
        result.left_out[agent_id] = why
        self.publish(EventType.AGENT_LEFT_OUT, agent_id, {"into": result.into, **why.to_dict()})

    def _move(self, result: LandResult) -> None:
        """Point the target at the new tip: a fast-forward of its clean checkout when the
        user named a checked-out branch, else a compare-and-swap of the ref alone."""
        if result.checked_out_in:
            git(["merge", "--ff-only", "--quiet", result.tip], Path(result.checked_out_in), oneie_env(self.root))
            return
        old = ZERO if result.created else result.start
        git(["update-ref", "-m", f"oneie land {self.run_id}", f"refs/heads/{result.into}", result.tip, old], self.root)


def _is_ancestor(root: Path, commit: str, of: str) -> bool:
    done = subprocess.run(
        ["git", "merge-base", "--is-ancestor", commit, of],
        cwd=root, capture_output=True, stdin=subprocess.DEVNULL, check=False,
    )
    return done.returncode == 0


def default_into(run_id: str) -> str:
    return f"{branch_for(run_id, 'landed')}"
