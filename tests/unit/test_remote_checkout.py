"""An agent's worktree on another node, with git only: a clone from a shipped bundle or
from origin, the agent's commits back as a bundle onto the same branch of the driver's
repository, and an earlier attempt's worktree kept only while it is current."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from oneie_tui.git.remote_checkout import (
    NodeCheckout,
    bundle,
    fetch_back,
    identity_of,
    make_on_node,
    origin_has,
    origin_url,
    pack_back,
    rev,
)
from oneie_tui.git.worktree import DEFAULT_DIR, WorktreeError, create, worktrees_dir


def sh(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    sh(root, "init", "-q", "-b", "main")
    sh(root, "config", "user.name", "Dev One")
    sh(root, "config", "user.email", "dev@example.org")
    (root / "app.py").write_text("print('hi')\n")
    sh(root, "add", ".")
    sh(root, "commit", "-q", "-m", "first")
    return root


def _checkout(project: Path, agent: str = "builder", url: str | None = None) -> tuple[NodeCheckout, Path]:
    wt = create(project, worktrees_dir(project, DEFAULT_DIR), "run-1", agent)
    tip = rev(wt.path, f"refs/heads/{wt.branch}")
    return NodeCheckout("run-1", agent, wt.branch, wt.base, tip, url, identity_of(project)), wt.path


def _agent_commits(path: Path, name: str) -> str:
    (path / name).write_text("made on the node\n")
    sh(path, "add", name)
    sh(path, "commit", "-q", "-m", f"add {name}")
    return sh(path, "rev-parse", "HEAD")


def test_a_bundle_clone_works_and_its_commits_come_back_on_the_same_branch(project: Path, tmp_path: Path) -> None:
    co, local = _checkout(project)
    history = bundle(local, f"refs/heads/{co.branch}")
    assert history is not None and bundle(local, f"refs/heads/{co.branch}", since=co.base) is None
    node = tmp_path / "node"
    made = make_on_node(node, co, history, None)
    assert not made.recovered and made.path.is_relative_to(node)
    assert sh(made.path, "rev-parse", "--abbrev-ref", "HEAD") == co.branch
    assert sh(made.path, "config", "user.name") == "Dev One"  # the driver's identity
    head = _agent_commits(made.path, "feature.txt")

    got_head, data = pack_back(made.path, co.branch, co.tip)
    assert got_head == head and data is not None
    user_head = sh(project, "rev-parse", "HEAD")
    fetch_back(local, local, co.branch, head, data)
    assert sh(project, "rev-parse", co.branch) == head
    assert (local / "feature.txt").read_text() == "made on the node\n"  # oneie's worktree follows
    assert sh(project, "rev-parse", "HEAD") == user_head  # the user's branch did not move
    assert sh(project, "rev-parse", "--abbrev-ref", "HEAD") == "main"
    assert sh(project, "status", "--porcelain") == ""


def test_the_same_node_keeps_a_current_worktree_and_replaces_a_stale_one(project: Path, tmp_path: Path) -> None:
    co, local = _checkout(project)
    node = tmp_path / "node"
    history = bundle(local, f"refs/heads/{co.branch}")
    made = make_on_node(node, co, history, None)
    (made.path / "half-done.txt").write_text("uncommitted work\n")
    again = make_on_node(node, co, None, None)  # the clone has the history now
    assert again.recovered and (again.path / "half-done.txt").exists()

    # The driver's branch moved past what the node has (a later attempt ran elsewhere):
    # the node's worktree is stale and is made again at the driver's tip.
    moved = _agent_commits(local, "elsewhere.txt")
    newer = NodeCheckout(co.run_id, co.agent_id, co.branch, co.base, moved, None, {})
    delta = bundle(local, f"refs/heads/{co.branch}", since=co.base)
    fresh = make_on_node(node, newer, None, delta)
    assert not fresh.recovered
    assert (fresh.path / "elsewhere.txt").exists() and not (fresh.path / "half-done.txt").exists()


def test_a_clone_from_origin_needs_the_base_there(project: Path, tmp_path: Path) -> None:
    origin = tmp_path / "origin.git"
    sh(tmp_path, "init", "-q", "--bare", str(origin))
    sh(project, "remote", "add", "origin", str(origin))
    co, _ = _checkout(project, url=str(origin))
    assert origin_url(project) == str(origin)
    assert not origin_has(project, co.base)
    with pytest.raises(WorktreeError, match="not in"):
        make_on_node(tmp_path / "node-a", co, None, None)
    sh(project, "push", "-q", "origin", "main")
    assert origin_has(project, co.base)
    made = make_on_node(tmp_path / "node-b", co, None, None)
    assert sh(made.path, "rev-parse", "HEAD") == co.base


def test_a_bundle_that_does_not_hold_its_head_is_refused(project: Path, tmp_path: Path) -> None:
    co, local = _checkout(project)
    made = make_on_node(tmp_path / "node", co, bundle(local, f"refs/heads/{co.branch}"), None)
    _agent_commits(made.path, "one.txt")
    _, data = pack_back(made.path, co.branch, co.tip)
    assert data is not None
    for head in ("0" * 40, "--upload-pack=touch x", "HEAD"):
        with pytest.raises(WorktreeError):
            fetch_back(local, local, co.branch, head, data)
    assert sh(project, "rev-parse", co.branch) == co.tip  # nothing moved


def test_a_relative_origin_is_made_absolute_for_the_nodes(project: Path, tmp_path: Path) -> None:
    sh(tmp_path, "init", "-q", "--bare", "origin.git")
    sh(project, "remote", "add", "origin", "../origin.git")
    assert origin_url(project) == str(tmp_path / "origin.git")
    sh(project, "remote", "set-url", "origin", "git@example.org:team/project.git")
    assert origin_url(project) == "git@example.org:team/project.git"


def test_the_checkout_setting_picks_origin_or_bundle(project: Path, tmp_path: Path) -> None:
    from oneie_tui.engine.ray_checkout import CheckoutError, Shipper

    wt = create(project, worktrees_dir(project, DEFAULT_DIR), "run-1", "builder")
    worktrees = {"builder": wt}
    assert Shipper.for_run({}, "origin", "", {}) is None  # no isolated agent: nothing to ship
    with pytest.raises(CheckoutError, match="has no origin"):
        Shipper.for_run(worktrees, "origin", "", {})
    auto = Shipper.for_run(worktrees, "auto", "", {})
    assert auto is not None and auto.url is None  # local-only: bundles
    origin = tmp_path / "origin.git"
    sh(tmp_path, "init", "-q", "--bare", str(origin))
    sh(project, "remote", "add", "origin", str(origin))
    with pytest.raises(CheckoutError, match="has not pushed"):
        Shipper.for_run(worktrees, "origin", "", {})
    sh(project, "push", "-q", "origin", "main")
    for mode, url in (("auto", str(origin)), ("origin", str(origin)), ("bundle", None)):
        shipper = Shipper.for_run(worktrees, mode, "node-a", {})
        assert shipper is not None and shipper.url == url, mode
    shipper = Shipper.for_run(worktrees, "auto", "node-a", {})
    assert shipper is not None
    assert not shipper.ships_to("builder", "node-a") and shipper.ships_to("builder", "node-b")
    assert not shipper.ships_to("someone-else", "node-b")  # not isolated
