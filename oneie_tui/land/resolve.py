"""A resolver agent for the merge queue's conflicts: when an agent's branch does not merge
cleanly onto what has landed so far, oneie makes a detached worktree of the landed commit,
starts the merge there (`git merge --no-commit`, so the conflict markers are in the files),
and hands the resolver agent a task naming the agent, its branch, the conflicted files and
their hunks (bounded). When the resolver ends, oneie checks its work (no markers left, both
sides in its history) and commits the merge if the resolver did not; that commit descends
from the landed commit, so it lands as a fast-forward. The worktree is removed afterwards.

Running the agent is not this floor's job: the caller hands in `RunAgent` (the engine's
`engine.resolver.agent_runner`), so land/ never imports the engine.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import anyio

from oneie_tui.git.worktree import WorktreeError, git, oneie_env

MAX_FILES = 20  # conflicted files whose hunks go into the task
MAX_FILE_BYTES = 256 * 1024  # read at most this much of one conflicted file
MAX_HUNK_LINES = 80  # lines of one conflict block
MAX_HUNKS_CHARS = 8000  # all hunks together
MAX_TASK_CHARS = 500  # of the conflicting agent's own task
CLEANUP_TIMEOUT = 60.0
MARKERS = ("<<<<<<< ", ">>>>>>> ")  # git's own conflict markers, at the start of a line


@dataclass(frozen=True)
class Conflict:
    """An agent's branch that does not merge onto the landed commit `onto`."""

    run_id: str
    into: str  # the branch being landed into
    agent_id: str
    branch: str
    commit: str
    onto: str
    paths: list[str]
    conflicts_with: list[str] = field(default_factory=list)
    task: str = ""  # the conflicting agent's own task, for context


@dataclass(frozen=True)
class ResolverTask:
    """What the resolver agent is given: its folder, its task, and variables that name the
    conflict for command resolvers (ONEIE_RESOLVE_*)."""

    resolver_id: str
    workdir: Path
    prompt: str
    env: dict[str, str]


@dataclass
class AgentOutcome:
    ok: bool
    summary: str = ""  # the agent's summary, or why it failed
    output_tail: str = ""


RunAgent = Callable[[ResolverTask], Awaitable[AgentOutcome]]


@dataclass
class Resolved:
    """The resolver's result: the merge commit to land, or why there is none."""

    resolver: str
    commit: str | None = None
    reason: str = ""
    output_tail: str = ""


class ResolveFailed(Exception):
    """The resolver's work cannot land. One line."""


def _start_merge(root: Path, folder: Path, conflict: Conflict) -> tuple[Path, list[str]]:
    """A detached worktree of `onto` with the agent's branch merged in, uncommitted, and the
    paths git left unmerged."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{conflict.agent_id}-{os.getpid()}-{time.monotonic_ns()}"
    git(["worktree", "add", "--detach", "--quiet", str(path), conflict.onto], root)
    env = oneie_env(root)
    done = subprocess.run(  # exit 1 on conflicts is what we expect here
        ["git", "-c", "merge.conflictStyle=merge", "merge", "--no-ff", "--no-commit", "--quiet", conflict.commit],
        cwd=path, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False,
    )
    try:
        if done.returncode != 0 and not _merging(path):
            message = (done.stderr.strip() or done.stdout.strip() or f"exit code {done.returncode}").splitlines()
            raise WorktreeError(f"git merge failed in {path}: {message[-1] if message else ''}")
        out = git(["diff", "--name-only", "-z", "--diff-filter=U"], path)
    except WorktreeError:
        _remove(root, path)  # nobody else knows of this worktree yet
        raise
    return path, [p for p in out.split("\0") if p]


def _merging(path: Path) -> bool:
    done = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", "MERGE_HEAD"],
        cwd=path, capture_output=True, stdin=subprocess.DEVNULL, check=False,
    )
    return done.returncode == 0


def _read(path: Path) -> str | None:
    """A file's text (its first MAX_FILE_BYTES), or None when it is binary or unreadable."""
    try:
        with path.open("rb") as f:
            data = f.read(MAX_FILE_BYTES)
    except OSError:
        return None
    if b"\0" in data:
        return None
    return data.decode("utf-8", errors="replace")


def conflict_hunks(workdir: Path, paths: list[str]) -> str:
    """The conflict blocks (`<<<<<<<` to `>>>>>>>`) of the conflicted files, with their line
    numbers, bounded per block, per file count and in all."""
    parts: list[str] = []
    for rel in paths[:MAX_FILES]:
        text = _read(workdir / rel)
        if text is None:
            parts.append(f"--- {rel}: binary or unreadable, resolve it as a whole")
            continue
        block: list[str] = []
        lines = text.splitlines()
        for number, line in enumerate(lines, 1):
            if line.startswith(MARKERS[0]):
                block = [f"--- {rel} line {number}"]
            if block:
                if len(block) <= MAX_HUNK_LINES:
                    block.append(line)
                elif len(block) == MAX_HUNK_LINES + 1:
                    block.append("… (block cut)")
                if line.startswith(MARKERS[1]):
                    if block[-1] != line:
                        block.append(line)
                    parts.append("\n".join(block))
                    block = []
    if len(paths) > MAX_FILES:
        parts.append(f"… and {len(paths) - MAX_FILES} more conflicted files")
    text = "\n".join(parts)
    if len(text) > MAX_HUNKS_CHARS:
        text = text[:MAX_HUNKS_CHARS] + "\n… (hunks cut; read the files themselves)"
    return text


def task_text(conflict: Conflict, resolver_id: str, unmerged: list[str], hunks: str) -> str:
    own = " ".join(conflict.task.split())
    own = own[:MAX_TASK_CHARS] + ("…" if len(own) > MAX_TASK_CHARS else "")
    lines = [
        f"You are {resolver_id}, resolving a merge conflict for `oneie land` of run {conflict.run_id}.",
        f"This folder is a git worktree of what has landed so far in {conflict.into} "
        f"(commit {conflict.onto[:12]}). A merge of agent {conflict.agent_id}'s branch "
        f"{conflict.branch} (commit {conflict.commit[:12]}) into it is in progress and "
        "stopped on conflicts in:",
        *(f"  - {p}" for p in unmerged),
    ]
    if conflict.conflicts_with:
        lines.append(f"Landed before it and changed the same files: {', '.join(conflict.conflicts_with)}.")
    if own:
        lines.append(f"{conflict.agent_id}'s own task was: {own}")
    lines += [
        "Edit the conflicted files so that the intent of both sides is kept and no conflict "
        "markers (<<<<<<<, =======, >>>>>>>) remain. You may `git add` and `git commit` the "
        "merge yourself; if you do not, oneie commits it when you finish. Do not switch "
        "branches, reset or abort the merge.",
        "",
        "The conflicts:",
        hunks or "(no text hunks: see the files)",
    ]
    return "\n".join(lines)


def _markers_left(workdir: Path, paths: list[str]) -> list[str]:
    left = []
    for rel in paths:
        text = _read(workdir / rel)
        if text is not None and any(line.startswith(MARKERS) for line in text.splitlines()):
            left.append(rel)
    return left


def _contains(workdir: Path, commit: str) -> bool:
    done = subprocess.run(
        ["git", "merge-base", "--is-ancestor", commit, "HEAD"],
        cwd=workdir, capture_output=True, stdin=subprocess.DEVNULL, check=False,
    )
    return done.returncode == 0


def finish(workdir: Path, conflict: Conflict, resolver_id: str, paths: list[str]) -> str:
    """The resolved merge commit: the resolver's own, or oneie's commit of what it left.
    Raises ResolveFailed when markers remain or its history lacks one side."""
    left = _markers_left(workdir, paths)
    if left:
        raise ResolveFailed(f"conflict markers left in {', '.join(left[:5])}")
    env = oneie_env(workdir, f"oneie resolver {resolver_id}")
    merging = _merging(workdir)
    dirty = bool(git(["status", "--porcelain"], workdir).strip())
    if merging or dirty:
        git(["add", "--all", "--", "."], workdir)
        if merging:
            title = f"oneie land: agent {conflict.agent_id} of run {conflict.run_id}, conflicts resolved by {resolver_id}"
        else:
            title = f"oneie land: what resolver {resolver_id} left uncommitted"
        message = (
            f"{title}\n\nOneie-Agent: {conflict.agent_id}\nOneie-Run: {conflict.run_id}\n"
            f"Oneie-Resolved-By: {resolver_id}\n"
        )
        git(["-c", "commit.gpgsign=false", "commit", "--no-verify", "--quiet", "--allow-empty", "-F", "-"],
            workdir, env, message)
    for side, commit in (("the landed commit", conflict.onto), (f"{conflict.agent_id}'s branch", conflict.commit)):
        if not _contains(workdir, commit):
            raise ResolveFailed(f"its result does not contain {side} ({commit[:12]})")
    return git(["rev-parse", "HEAD"], workdir).strip()


def _remove(root: Path, path: Path) -> None:
    for args in (["worktree", "remove", "--force", str(path)], ["worktree", "prune"]):
        try:
            git(args, root)
        except WorktreeError:  # already gone; prune tidies what is left next time
            pass


async def resolve_conflict(
    root: Path, folder: Path, conflict: Conflict, resolver_id: str, run_agent: RunAgent
) -> Resolved:
    """Run the resolver on one conflict in a worktree under `folder` (removed afterwards)."""
    try:
        workdir, unmerged = await anyio.to_thread.run_sync(_start_merge, root, folder, conflict)
    except WorktreeError as exc:
        return Resolved(resolver_id, reason=str(exc))
    try:
        paths = unmerged or list(conflict.paths)
        prompt = task_text(conflict, resolver_id, paths, await anyio.to_thread.run_sync(conflict_hunks, workdir, paths))
        env = {
            "ONEIE_RESOLVE_AGENT": conflict.agent_id,
            "ONEIE_RESOLVE_BRANCH": conflict.branch,
            "ONEIE_RESOLVE_COMMIT": conflict.commit,
            "ONEIE_RESOLVE_PATHS": "\n".join(paths),
            "ONEIE_RESOLVE_TASK": prompt,
        }
        outcome = await run_agent(ResolverTask(resolver_id, workdir, prompt, env))
        if not outcome.ok:
            return Resolved(resolver_id, reason=f"failed: {outcome.summary or 'no reason given'}",
                            output_tail=outcome.output_tail)
        try:
            commit = await anyio.to_thread.run_sync(finish, workdir, conflict, resolver_id, paths)
        except (ResolveFailed, WorktreeError) as exc:
            return Resolved(resolver_id, reason=str(exc), output_tail=outcome.output_tail)
        return Resolved(resolver_id, commit, output_tail=outcome.output_tail)
    finally:
        with anyio.CancelScope(shield=True), anyio.move_on_after(CLEANUP_TIMEOUT):
            await anyio.to_thread.run_sync(_remove, root, workdir)
