"""An agent's worktree on another machine, with git only (no shared filesystem).

The node keeps one bare clone per run (`<node dir>/<run>/.clone`) filled from the
driver's `origin` URL or from a `git bundle` the driver ships, and gives each agent a
worktree of it on the agent's usual branch (`oneie/<run>/<agent>`), at the commit the
driver's branch is at. When the agent ends, its new commits go back as a bundle of
`tip..branch`, and the driver fetches that onto the same branch of its own repository
(fast-forward of oneie's worktree there), so the radar, review and `oneie land` read it
exactly as a local agent's.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from oneie_tui.git.worktree import BASE_FILE, WorktreeError, git

CLONE_DIR = ".clone"
IDENTITY_KEYS = ("user.name", "user.email")
_SCP_LIKE = re.compile(r"^[^/]+:")  # user@host:path, as git reads it
_COMMIT_ID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


@dataclass(frozen=True)
class NodeCheckout:
    """What a node needs to make one agent's worktree (travels in the host request)."""

    run_id: str
    agent_id: str
    branch: str
    base: str  # the run's base commit (full id)
    tip: str  # the branch as the driver has it (base, or an earlier attempt's work)
    url: str | None = None  # clone the history from here (the driver's origin), else
    identity: dict[str, str] = field(default_factory=dict)  # the driver repo's user.name/email


# --- the driver's side ---------------------------------------------------------------


def origin_url(root: Path) -> str | None:
    """The driver repository's `origin` URL, if it has one; a relative local path made
    absolute (a node resolves nothing against the driver's folder)."""
    try:
        url = git(["remote", "get-url", "origin"], root).strip()
    except WorktreeError:
        return None
    if not url:
        return None
    if "://" not in url and not _SCP_LIKE.match(url) and not Path(url).is_absolute():
        top = git(["rev-parse", "--show-toplevel"], root).strip()
        return str((Path(top) / url).resolve())
    return url


def origin_has(root: Path, commit: str) -> bool:
    """Whether `commit` is on a branch of origin, as far as this repository last fetched."""
    try:
        out = git(["for-each-ref", "--contains", commit, "--format=%(refname)", "refs/remotes/origin"], root)
    except WorktreeError:
        return False
    return bool(out.strip())


def identity_of(root: Path) -> dict[str, str]:
    """The committer identity git uses in the driver's repository (so an agent's commits
    on a node are made by the same person as locally)."""
    found: dict[str, str] = {}
    for key in IDENTITY_KEYS:
        done = subprocess.run(["git", "config", "--get", key], cwd=root, capture_output=True, text=True, check=False)
        if done.returncode == 0 and done.stdout.strip():
            found[key] = done.stdout.strip()
    return found


def rev(root: Path, ref: str) -> str:
    return git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], root).strip()


def bundle(repo: Path, ref: str, since: str | None = None) -> bytes | None:
    """A `git bundle` of `ref` (only what follows `since`, when given): its bytes, or None
    when there is nothing after `since`."""
    if since is not None and rev(repo, ref) == since:
        return None
    with tempfile.TemporaryDirectory(prefix="oneie-bundle-") as tmp:
        out = Path(tmp) / "ship.bundle"
        git(["bundle", "create", "--quiet", str(out), f"{since}..{ref}" if since else ref], repo)
        return out.read_bytes()


def fetch_back(root: Path, worktree: Path, branch: str, head: str, data: bytes) -> None:
    """Bring an agent's commits (a bundle from its node) onto `branch` of the driver's
    repository: fetched, then oneie's own worktree of that branch fast-forwarded to
    `head` (refused, not forced, if it moved meanwhile). The user's branch, working tree
    and FETCH_HEAD are not touched: the fetch runs in oneie's worktree."""
    if not _COMMIT_ID.fullmatch(head):
        raise WorktreeError(f"the node sent {head[:50]!r} as the head of {branch}, not a commit id")
    with tempfile.TemporaryDirectory(prefix="oneie-fetch-") as tmp:
        file = Path(tmp) / "back.bundle"
        file.write_bytes(data)
        git(["bundle", "verify", "--quiet", str(file)], worktree)
        git(["fetch", "--quiet", "--no-write-fetch-head", "--no-tags", str(file), f"refs/heads/{branch}"], worktree)
    if rev(root, head) != head:
        raise WorktreeError(f"the bundle of {branch} does not hold its head {head[:12]}")
    git(["-c", "core.hooksPath=/dev/null", "merge", "--ff-only", "--quiet", head], worktree)


# --- the node's side -----------------------------------------------------------------


@dataclass(frozen=True)
class Made:
    path: Path
    recovered: bool  # the worktree of an earlier attempt was here, with all the driver has


def _has_commit(repo: Path, commit: str) -> bool:
    return subprocess.run(
        ["git", "cat-file", "-e", f"{commit}^{{commit}}"], cwd=repo, capture_output=True, check=False
    ).returncode == 0


def _fetch_bundle(clone: Path, data: bytes, branch: str) -> None:
    with tempfile.TemporaryDirectory(prefix="oneie-fetch-") as tmp:
        file = Path(tmp) / "in.bundle"
        file.write_bytes(data)
        git(["fetch", "--quiet", "--no-tags", str(file), f"+refs/heads/{branch}:refs/oneie/in/{branch}"], clone)


def _reusable(path: Path, tip: str) -> bool:
    """An earlier attempt's worktree that holds everything the driver has of the branch."""
    if not (path / ".git").exists():
        return False
    try:
        head = git(["rev-parse", "HEAD"], path).strip()
    except WorktreeError:
        return False
    return subprocess.run(
        ["git", "merge-base", "--is-ancestor", tip, head], cwd=path, capture_output=True, check=False
    ).returncode == 0


def make_on_node(
    node_dir: Path, co: NodeCheckout, history: bytes | None, delta: bytes | None
) -> Made:
    """The agent's worktree under `node_dir`: the earlier attempt's when it is still
    here and current, else a new one at the driver's tip. `history` is a bundle with
    the base's history (when the clone lacks it and there is no `url`), `delta` a bundle
    of the branch's commits since the base (when the driver's branch has any)."""
    path = node_dir / co.run_id / co.agent_id
    if _reusable(path, co.tip):
        return Made(path, True)
    clone = node_dir / co.run_id / CLONE_DIR
    if not (clone / "HEAD").exists():
        clone.mkdir(parents=True, exist_ok=True)
        git(["init", "--quiet", "--bare", str(clone)], clone)
        for key, value in co.identity.items():
            git(["config", key, value], clone)
    if not _has_commit(clone, co.base):
        if history is not None:
            _fetch_bundle(clone, history, co.branch)
        elif co.url:
            git(["fetch", "--quiet", "--no-tags", co.url, "+refs/heads/*:refs/oneie/origin/*"], clone)
        if not _has_commit(clone, co.base):
            where = co.url or "the shipped bundle"
            raise WorktreeError(f"the run's base commit {co.base[:12]} is not in {where}; push it, or use ray_checkout = \"bundle\"")
    if delta is not None:
        _fetch_bundle(clone, delta, co.branch)
    if not _has_commit(clone, co.tip):
        raise WorktreeError(f"the node did not receive {co.branch} at {co.tip[:12]}")
    if path.exists():  # stale: an attempt that the driver's branch has moved past
        subprocess.run(["git", "worktree", "remove", "--force", str(path)], cwd=clone, capture_output=True, check=False)
        shutil.rmtree(path, ignore_errors=True)
    git(["worktree", "prune"], clone)
    git(["update-ref", f"refs/heads/{co.branch}", co.tip], clone)
    path.parent.mkdir(parents=True, exist_ok=True)
    git(["worktree", "add", "--quiet", str(path), co.branch], clone)
    git_dir = Path(git(["rev-parse", "--absolute-git-dir"], path).strip())
    (git_dir / BASE_FILE).write_text(co.base + "\n")
    return Made(path, False)


def pack_back(path: Path, branch: str, since: str) -> tuple[str, bytes | None]:
    """(the branch's head on the node, a bundle of its commits since `since`, or None)."""
    head = rev(path, f"refs/heads/{branch}")
    return head, bundle(path, f"refs/heads/{branch}", since)
