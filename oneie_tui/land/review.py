"""What the review screen shows of one agent, all from git: the changed files with their
line counts and the diff (a file's, or the whole change). A live agent's worktree is read
through a throwaway index so uncommitted work shows too and its own index stays as it
was; a finished agent's branch is compared with the run's base."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from oneie_tui.git.worktree import branch_for, git
from oneie_tui.land.runfacts import RunFacts

MAX_DIFF_CHARS = 400_000  # a screenful of review, not a whole vendored tree


@dataclass(frozen=True)
class ChangedFile:
    path: str
    added: int | None  # None: binary
    deleted: int | None


@contextmanager
def _source(facts: RunFacts, agent_id: str) -> Iterator[tuple[Path, dict[str, str] | None, list[str]]]:
    """(folder to run git in, its environment, the diff's revision arguments)."""
    worktree = Path(str(facts.info.get(agent_id, {}).get("worktree", "")))
    if str(worktree) and (worktree / ".git").exists():
        with tempfile.TemporaryDirectory(prefix="oneie-review-") as tmp:
            env = {**os.environ, "GIT_INDEX_FILE": str(Path(tmp) / "index")}
            git(["read-tree", "HEAD"], worktree, env)
            git(["add", "--all", "--", "."], worktree, env)
            yield worktree, env, ["--cached", facts.base]
        return
    yield facts.root, None, [facts.base, branch_for(facts.run_id, agent_id)]


def changed_files(facts: RunFacts, agent_id: str) -> list[ChangedFile]:
    with _source(facts, agent_id) as (cwd, env, revisions):
        out = git(["diff", "--numstat", "-z", "--no-renames", *revisions], cwd, env)
    found: list[ChangedFile] = []
    for entry in out.split("\0"):
        parts = entry.split("\t", 2)
        if len(parts) == 3:
            added, deleted, path = parts
            found.append(ChangedFile(path, int(added) if added.isdigit() else None, int(deleted) if deleted.isdigit() else None))
    return found


def diff_text(facts: RunFacts, agent_id: str, path: str | None = None) -> str:
    """The unified diff from git (no colour: the screen highlights it), capped."""
    with _source(facts, agent_id) as (cwd, env, revisions):
        args = ["diff", "--no-color", "--no-ext-diff", "--no-renames", *revisions]
        out = git([*args, "--", path] if path else args, cwd, env)
    if len(out) > MAX_DIFF_CHARS:
        out = out[:MAX_DIFF_CHARS] + f"\n… diff cut at {MAX_DIFF_CHARS:,} characters\n"
    return out
