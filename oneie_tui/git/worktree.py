"""Git worktrees: one per agent, on branch `oneie/<run>/<agent>`, made before launch and
kept after, so parallel agents never write over each other and their work stays reviewable.

The worktrees live under the project (default `.oneie/worktrees/<run>/<agent>`), never
outside it; that folder ignores itself, so the project's `git status` stays clean. Each
worktree remembers the commit it started from (a file in its private git dir), so the diff
stat is "everything this agent changed", committed or not, untracked files included.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

BRANCH_PREFIX = "oneie/"
DEFAULT_DIR = ".oneie/worktrees"
BASE_FILE = "oneie-base"
GIT_TIMEOUT = 120.0


class WorktreeError(Exception):
    """Worktrees cannot be made or read. One line for the user."""


@dataclass(frozen=True)
class Worktree:
    agent_id: str
    run_id: str
    path: Path
    branch: str
    base: str  # the commit the branch started from

    def info(self) -> dict[str, str]:
        return {"worktree": str(self.path), "branch": self.branch, "base": self.base[:12]}


@dataclass
class DiffStat:
    files: int = 0
    insertions: int = 0
    deletions: int = 0
    paths: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        if not self.files:
            return "no changes"
        return f"{self.files} file{'s' if self.files != 1 else ''} changed, +{self.insertions} -{self.deletions}"

    def to_dict(self, max_paths: int = 50) -> dict[str, object]:
        return {
            "diff_stat": self.text,
            "files_changed": self.files,
            "insertions": self.insertions,
            "deletions": self.deletions,
            "changed_paths": self.paths[:max_paths],
        }


def git(args: list[str], cwd: Path, env: dict[str, str] | None = None, stdin: str | None = None) -> str:
    """Run git (argv, no shell); its stdout, or WorktreeError with git's own message."""
    if shutil.which("git") is None:
        raise WorktreeError('git is not installed; isolation = "worktree" needs git')
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=cwd,
            env=env,
            input=stdin,
            stdin=None if stdin is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise WorktreeError(f"git {args[0]} failed in {cwd}: {exc}") from None
    if done.returncode != 0:
        message = (done.stderr.strip() or done.stdout.strip() or f"exit code {done.returncode}").splitlines()
        raise WorktreeError(f"git {args[0]} failed in {cwd}: {message[-1] if message else ''}")
    return done.stdout


def project_root(start: Path) -> Path:
    """The top of the git repository holding `start`, which must have a commit."""
    try:
        top = git(["rev-parse", "--show-toplevel"], start).strip()
    except WorktreeError:
        if shutil.which("git") is None:
            raise
        raise WorktreeError(
            f'{start} is not inside a git repository: isolation = "worktree" gives each agent '
            "its own git worktree, so run oneie from a git repository (git init, then commit "
            'once) or set isolation = "none"'
        ) from None
    root = Path(top)
    try:
        git(["rev-parse", "--verify", "--quiet", "HEAD"], root)
    except WorktreeError:
        raise WorktreeError(
            f"the git repository {root} has no commit yet: commit once so the agents' worktrees "
            "have something to start from"
        ) from None
    return root


def worktrees_dir(root: Path, configured: str = DEFAULT_DIR) -> Path:
    """Where worktrees go: `configured` under the project, refusing paths that escape it."""
    root = root.resolve()
    path = (root / configured).resolve()
    if path == root or not path.is_relative_to(root):
        raise WorktreeError(
            f"worktree folder {configured!r} is outside the project folder {root}; "
            "use a path inside it, such as .oneie/worktrees"
        )
    return path


def branch_for(run_id: str, agent_id: str) -> str:
    return f"{BRANCH_PREFIX}{run_id}/{agent_id}"


def _ignore_self(folder: Path) -> None:
    """Make `folder` invisible to the project's git status."""
    folder.mkdir(parents=True, exist_ok=True)
    ignore = folder / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# made by oneie: agent worktrees, not part of the project\n*\n")


def _git_dir(path: Path) -> Path:
    return Path(git(["rev-parse", "--absolute-git-dir"], path).strip())


def create(root: Path, base_dir: Path, run_id: str, agent_id: str) -> Worktree:
    """Make (or, on resume, reuse) the worktree of one agent."""
    path = base_dir / run_id / agent_id
    branch = branch_for(run_id, agent_id)
    try:
        git(["check-ref-format", f"refs/heads/{branch}"], root)
    except WorktreeError:
        raise WorktreeError(f"agent id {agent_id!r} cannot be part of a git branch name ({branch})") from None
    if (path / ".git").exists():
        base_file = _git_dir(path) / BASE_FILE
        base = base_file.read_text().strip() if base_file.exists() else git(["rev-parse", "HEAD"], path).strip()
        return Worktree(agent_id, run_id, path, branch, base)
    _ignore_self(base_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    base = git(["rev-parse", "HEAD"], root).strip()
    exists = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"],
        cwd=root,
        capture_output=True,
        check=False,
    ).returncode == 0
    if exists:  # the folder was removed by hand but the branch kept its work
        git(["worktree", "prune"], root)
        git(["worktree", "add", str(path), branch], root)
    else:
        git(["worktree", "add", "-b", branch, str(path), base], root)
    (_git_dir(path) / BASE_FILE).write_text(base + "\n")
    return Worktree(agent_id, run_id, path, branch, base)


def diff_stat(path: Path, base: str) -> DiffStat:
    """What changed in the worktree since `base`: commits, staged, unstaged and untracked
    files. Uses a throwaway index so the agent's own index is left as it was."""
    with tempfile.TemporaryDirectory(prefix="oneie-diff-") as tmp:
        env = {**os.environ, "GIT_INDEX_FILE": str(Path(tmp) / "index")}
        git(["read-tree", "HEAD"], path, env)
        git(["add", "--all", "--", "."], path, env)
        out = git(["diff", "--cached", "--numstat", "--no-renames", base], path, env)
    stat = DiffStat()
    for line in out.splitlines():
        parts = line.split("\t", 2)
        if len(parts) != 3:
            continue
        added, deleted, name = parts
        stat.files += 1
        stat.insertions += int(added) if added.isdigit() else 0
        stat.deletions += int(deleted) if deleted.isdigit() else 0
        stat.paths.append(name)
    return stat


@dataclass(frozen=True)
class Listed:
    path: Path
    branch: str
    run_id: str
    agent_id: str
    base: str


def list_worktrees(root: Path) -> list[Listed]:
    """The project's oneie worktrees (`git worktree list`, branches under oneie/)."""
    out = git(["worktree", "list", "--porcelain"], root)
    found: list[Listed] = []
    path: Path | None = None
    for line in [*out.splitlines(), ""]:
        if line.startswith("worktree "):
            path = Path(line[len("worktree ") :])
        elif line.startswith("branch refs/heads/" + BRANCH_PREFIX) and path is not None:
            branch = line[len("branch refs/heads/") :]
            run_id, _, agent_id = branch[len(BRANCH_PREFIX) :].partition("/")
            base = ""
            if path.exists():
                try:
                    base_file = _git_dir(path) / BASE_FILE
                    base = base_file.read_text().strip() if base_file.exists() else ""
                except (WorktreeError, OSError):
                    base = ""
            found.append(Listed(path, branch, run_id, agent_id, base))
        elif not line:
            path = None
    return found


def remove(root: Path, item: Listed) -> bool:
    """Remove a worktree (its uncommitted changes too). The branch goes as well unless it
    holds commits of its own; True when the branch was kept."""
    if item.path.exists():
        git(["worktree", "remove", "--force", str(item.path)], root)
    git(["worktree", "prune"], root)
    own_commits = 0
    if item.base:
        own_commits = int(git(["rev-list", "--count", f"{item.base}..{item.branch}"], root).strip() or 0)
    if item.base and own_commits == 0:
        git(["branch", "-D", item.branch], root)
        return False
    return True


ONEIE_NAME = "oneie"
ONEIE_EMAIL = "oneie@localhost"


def _has_identity(path: Path) -> bool:
    for key in ("user.name", "user.email"):
        done = subprocess.run(
            ["git", "config", "--get", key], cwd=path, capture_output=True, text=True, check=False
        )
        if done.returncode != 0 or not done.stdout.strip():
            return False
    return True


def oneie_env(path: Path, author: str = ONEIE_NAME) -> dict[str, str]:
    """The environment for a commit oneie makes: authored by oneie (`author`), committed
    by the user when they have an identity, else by oneie, so a fresh repository works."""
    env = {**os.environ, "GIT_AUTHOR_NAME": author, "GIT_AUTHOR_EMAIL": ONEIE_EMAIL}
    if not _has_identity(path):
        env.update({"GIT_COMMITTER_NAME": ONEIE_NAME, "GIT_COMMITTER_EMAIL": ONEIE_EMAIL})
    return env


def commit_work(wt: Worktree, status: str, summary: str = "") -> str | None:
    """Commit everything the agent left uncommitted (untracked files too) to its branch;
    the new commit id, or None when there was nothing to commit. The agent's hooks and
    signing settings are bypassed: this is oneie's bookkeeping commit, not the agent's."""
    git(["add", "--all", "--", "."], wt.path)
    staged = subprocess.run(
        ["git", "diff", "--cached", "--quiet"], cwd=wt.path, capture_output=True, check=False
    )
    if staged.returncode == 0:
        return None
    first = (summary.strip().splitlines() or [""])[0][:200]
    title = f"oneie: work of agent {wt.agent_id} ({status})"
    body = f"{first}\n\n" if first else ""
    message = f"{title}\n\n{body}Oneie-Agent: {wt.agent_id}\nOneie-Run: {wt.run_id}\n"
    env = oneie_env(wt.path, f"oneie agent {wt.agent_id}")
    git(["-c", "commit.gpgsign=false", "commit", "--no-verify", "--quiet", "-F", "-"], wt.path, env, message)
    return git(["rev-parse", "HEAD"], wt.path).strip()
