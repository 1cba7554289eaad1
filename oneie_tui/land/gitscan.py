"""The git reads the radar and the merge queue share: what a worktree changed since the
run's base (committed or not), the tree of a worktree as a commit in a scratch object
store, and a dry-run merge of two commits (`git merge-tree --write-tree`).

Everything written goes to a scratch object directory (GIT_OBJECT_DIRECTORY, with the
project's objects as an alternate), so watching never writes into the user's repository
nor touches an agent's own index.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from oneie_tui.git.worktree import GIT_TIMEOUT, ONEIE_EMAIL, ONEIE_NAME, WorktreeError, git


@dataclass(frozen=True)
class Changes:
    paths: frozenset[str]
    signature: str  # changes when the worktree's content may have changed
    head: str = ""
    clean: bool = False  # nothing uncommitted: HEAD is the worktree's whole content


def changed_paths(path: Path, base: str, head_cache: dict[str, frozenset[str]] | None = None) -> tuple[Changes, int]:
    """(what the worktree changed since `base`, git processes used). One `git status`
    (no optional locks: the agent's index is never rewritten), plus one `git diff` when
    the agent has committed since the last look."""
    out = git(
        ["--no-optional-locks", "status", "--porcelain=v2", "-z", "--branch",
         "--untracked-files=all", "--no-renames"],
        path,
    )
    calls = 1
    head = ""
    paths: set[str] = set()
    entries = [e for e in out.split("\0") if e and not e.startswith("# ")]
    for entry in out.split("\0"):
        if entry.startswith("# branch.oid "):
            head = entry[len("# branch.oid ") :]
        elif entry.startswith("1 "):
            paths.add(entry.split(" ", 8)[8])
        elif entry.startswith("u "):
            paths.add(entry.split(" ", 10)[10])
        elif entry.startswith("2 "):  # only with renames on; kept for safety
            paths.add(entry.split(" ", 9)[9])
        elif entry.startswith("? "):
            paths.add(entry[2:])
    if head and head != "(initial)" and not base.startswith(head) and not head.startswith(base):
        cache = {} if head_cache is None else head_cache
        if head not in cache:
            diff = git(["diff", "--name-only", "-z", "--no-renames", base, head], path)
            calls += 1
            cache[head] = frozenset(p for p in diff.split("\0") if p)
        paths |= cache[head]
    # git status says a file is modified, not how: its size and mtime tell a new edit of an
    # already modified file (a fresh snapshot and merge are due), without another process.
    stamps = []
    for name in sorted(p for p in paths if not p.endswith("/")):
        try:
            st = os.lstat(path / name)
            stamps.append(f"{name}\0{st.st_size}\0{st.st_mtime_ns}")
        except OSError:
            stamps.append(f"{name}\0gone")
    return Changes(frozenset(paths), "\0".join([head, out, *stamps]), head, not entries), calls


class Scratch:
    """A private object store over the project's: trees and commits the radar makes live
    here and vanish with it."""

    def __init__(self, any_worktree: Path) -> None:
        common = Path(git(["rev-parse", "--git-common-dir"], any_worktree).strip())
        if not common.is_absolute():
            common = (any_worktree / common).resolve()
        self._tmp = tempfile.TemporaryDirectory(prefix="oneie-radar-")
        self.objects = Path(self._tmp.name) / "objects"
        self.objects.mkdir()
        self.env = {
            **os.environ,
            "GIT_OBJECT_DIRECTORY": str(self.objects),
            "GIT_ALTERNATE_OBJECT_DIRECTORIES": str(common / "objects"),
            "GIT_AUTHOR_NAME": ONEIE_NAME, "GIT_AUTHOR_EMAIL": ONEIE_EMAIL,
            "GIT_COMMITTER_NAME": ONEIE_NAME, "GIT_COMMITTER_EMAIL": ONEIE_EMAIL,
        }

    def close(self) -> None:
        self._tmp.cleanup()

    def snapshot(self, path: Path, base: str) -> tuple[str, int]:
        """(a commit on `base` holding the worktree's files as they are now, git processes
        used), through a throwaway index."""
        with tempfile.TemporaryDirectory(prefix="oneie-index-") as tmp:
            env = {**self.env, "GIT_INDEX_FILE": str(Path(tmp) / "index")}
            git(["read-tree", "HEAD"], path, env)
            git(["add", "--all", "--", "."], path, env)
            tree = git(["write-tree"], path, env).strip()
        commit = git(["commit-tree", tree, "-p", base, "-m", "oneie radar snapshot"], path, self.env).strip()
        return commit, 4

    def conflicts(self, cwd: Path, ours: str, theirs: str) -> list[str]:
        """The paths a real merge of the two commits would leave conflicted."""
        return merge_conflicts(cwd, ours, theirs, self.env)


def merge_conflicts(cwd: Path, ours: str, theirs: str, env: dict[str, str] | None = None) -> list[str]:
    """Conflicted paths of a dry-run merge (`git merge-tree --write-tree`); [] when clean."""
    tree, conflicted = merge_tree(cwd, ours, theirs, env)
    del tree
    return conflicted


def merge_tree(cwd: Path, ours: str, theirs: str, env: dict[str, str] | None = None) -> tuple[str, list[str]]:
    """(the merged tree, the conflicted paths). Exit 1 of merge-tree means conflicts, not
    failure; anything else is a WorktreeError."""
    try:
        done = subprocess.run(
            ["git", "merge-tree", "--write-tree", "--name-only", "--no-messages", "-z", ours, theirs],
            cwd=cwd, env=env, capture_output=True, text=True, timeout=GIT_TIMEOUT,
            stdin=subprocess.DEVNULL, check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise WorktreeError(f"git merge-tree failed in {cwd}: {exc}") from None
    if done.returncode not in (0, 1):
        lines = (done.stderr.strip() or f"exit code {done.returncode}").splitlines()
        raise WorktreeError(f"git merge-tree failed in {cwd}: {lines[-1]}")
    parts = [p for p in done.stdout.split("\0") if p]
    tree = parts[0] if parts else ""
    return tree, (sorted(dict.fromkeys(parts[1:])) if done.returncode == 1 else [])


def intersect(a: Iterable[str], b: frozenset[str]) -> list[str]:
    return sorted(p for p in a if p in b)
