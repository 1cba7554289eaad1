"""What the review screen shows of one agent, all from git: the changed files with their
line counts and the diff (a file's, or the whole change). A live agent's worktree is read
through a throwaway index so uncommitted work shows too and its own index stays as it
was; a finished agent's branch is compared with the run's base."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

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
        # Explicit prefixes: `diff_lines` reads the paths back, whatever diff.noprefix says.
        args = ["diff", "--no-color", "--no-ext-diff", "--no-renames", "--src-prefix=a/", "--dst-prefix=b/", *revisions]
        out = git([*args, "--", path] if path else args, cwd, env)
    if len(out) > MAX_DIFF_CHARS:
        out = out[:MAX_DIFF_CHARS] + f"\n… diff cut at {MAX_DIFF_CHARS:,} characters\n"
    return out


@dataclass(frozen=True)
class DiffLine:
    """Where one line of a unified diff is in its file: a review comment names it."""

    path: str
    line: int  # in the new file; for a removed line, in the old one
    kind: Literal["added", "removed", "context"]
    text: str

    def comment(self, text: str) -> str:
        """A review comment on this line, as the agent is told it."""
        where = f"{self.path} line {self.line}"
        if self.kind == "removed":
            where += " (a line the change removed; numbered as before it)"
        return f"Review comment on {where}:\n{text}"


_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


def _name(header: str) -> str:
    """The path of a `--- a/x` / `+++ b/x` header ('' for /dev/null)."""
    name = header.rstrip("\t")  # git ends a name holding spaces with a tab
    if name.startswith('"') and name.endswith('"') and len(name) >= 2:  # C-quoted by git
        name = name[1:-1].encode("latin-1", "backslashreplace").decode("unicode_escape")
        name = name.encode("latin-1", "replace").decode("utf-8", "replace")
    if name == "/dev/null":
        return ""
    return name[2:] if name[:2] in ("a/", "b/") else name


def diff_lines(diff: str) -> list[DiffLine | None]:
    """For each line of `diff` (as `str.splitlines` cuts it), where it is in its file, or
    None for headers. Hunk line counts decide what is content, so a removed line that reads
    `-- x` is not taken for a header."""
    out: list[DiffLine | None] = []
    path = old_path = ""
    old = new = left_old = left_new = 0
    for raw in diff.splitlines():
        if left_old > 0 or left_new > 0:
            tag = raw[:1]
            if tag == "+" and left_new > 0:
                out.append(DiffLine(path, new, "added", raw[1:]))
                new, left_new = new + 1, left_new - 1
                continue
            if tag == "-" and left_old > 0:
                out.append(DiffLine(path or old_path, old, "removed", raw[1:]))
                old, left_old = old + 1, left_old - 1
                continue
            if tag in (" ", "") and left_old > 0 and left_new > 0:
                out.append(DiffLine(path, new, "context", raw[1:]))
                old, new, left_old, left_new = old + 1, new + 1, left_old - 1, left_new - 1
                continue
            if tag != "\\":  # a hunk shorter than its header said: read on as headers
                left_old = left_new = 0
        if raw.startswith("diff --git "):
            path = old_path = ""
        elif raw.startswith("--- "):
            old_path = _name(raw[4:])
        elif raw.startswith("+++ "):
            path = _name(raw[4:]) or old_path
        elif found := _HUNK.match(raw):
            a, b, c, d = found.groups()
            old, left_old = int(a), int(b) if b is not None else 1
            new, left_new = int(c), int(d) if d is not None else 1
        out.append(None)
    return out
