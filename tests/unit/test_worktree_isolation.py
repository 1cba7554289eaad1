"""Git worktree per agent: made before launch, kept after, diff stat recorded."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from oneie_tui.agents.base import BackendOptions
from oneie_tui.engine.session import RunOptions, SetupError, build_runner
from oneie_tui.git.worktree import (
    WorktreeError,
    create,
    diff_stat,
    list_worktrees,
    project_root,
    worktrees_dir,
)
from oneie_tui.store.sqlite import RunStore
from tests.fakes.process_tools import (
    PY,
    git_repo,
    loaded,
    of_type,
    run_spec,
    script,
    spec_text,
    status_of,
)


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout


def test_diff_stat_counts_changed_and_untracked_files_without_touching_the_index(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo")
    wt = create(repo, worktrees_dir(repo), "run1", "agent-a")
    assert wt.path == repo / ".oneie/worktrees/run1/agent-a"
    assert wt.branch == "oneie/run1/agent-a"
    assert _git(wt.path, "branch", "--show-current").strip() == "oneie/run1/agent-a"
    assert diff_stat(wt.path, wt.base).text == "no changes"
    (wt.path / "README.md").write_text("project\nmore\n")
    (wt.path / "new.txt").write_text("a\nb\nc\n")
    stat = diff_stat(wt.path, wt.base)
    assert (stat.files, stat.insertions, stat.deletions) == (2, 4, 0)
    assert sorted(stat.paths) == ["README.md", "new.txt"]
    assert stat.text == "2 files changed, +4 -0"
    status = _git(wt.path, "status", "--porcelain")
    assert "?? new.txt" in status and " M README.md" in status  # the agent's index is untouched
    # Committed work counts too.
    _git(wt.path, "add", "-A")
    _git(wt.path, "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "work")
    assert diff_stat(wt.path, wt.base).files == 2
    # The project's own status stays clean: the worktree folder ignores itself.
    assert _git(repo, "status", "--porcelain").strip() == ""


def test_creating_again_reuses_the_worktree(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo")
    first = create(repo, worktrees_dir(repo), "run1", "a")
    (first.path / "keep.txt").write_text("x")
    _git(repo, "commit", "--allow-empty", "-qm", "moved on")  # the project moves on
    again = create(repo, worktrees_dir(repo), "run1", "a")
    assert again.path == first.path and again.base == first.base
    assert (again.path / "keep.txt").exists()


def test_worktree_folder_may_not_escape_the_project(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo")
    for bad in ("../outside", str(tmp_path / "elsewhere"), ".", "a/../.."):
        with pytest.raises(WorktreeError, match="outside the project folder"):
            worktrees_dir(repo, bad)
    assert worktrees_dir(repo, "build/wt") == (repo / "build/wt").resolve()


def test_no_repository_or_no_commit_is_a_clear_error(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(WorktreeError, match="is not inside a git repository"):
        project_root(plain)
    empty = tmp_path / "empty"
    empty.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=empty, check=True)
    with pytest.raises(WorktreeError, match="has no commit yet"):
        project_root(empty)


def test_isolation_without_git_refuses_the_run_before_it_starts(tmp_path: Path) -> None:
    spec = loaded([{"id": "a", "command": {"argv": [PY, "-c", "pass"]}}], isolation="worktree")
    with pytest.raises(SetupError, match="not inside a git repository"):
        build_runner(spec, RunOptions(backend_options=BackendOptions(project_dir=str(tmp_path))), None)


def test_worktree_dir_from_the_spec_is_used_and_checked(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo")
    outside = loaded([{"id": "a", "command": {"argv": [PY, "-c", "pass"]}}], isolation="worktree", worktree_dir="../elsewhere")
    with pytest.raises(SetupError, match="outside the project folder"):
        build_runner(outside, RunOptions(backend_options=BackendOptions(project_dir=str(repo))), None)
    inside = loaded([{"id": "a", "command": {"argv": [PY, "-c", "import os; print(os.getcwd())"]}}], isolation="worktree", worktree_dir="build/agents")
    runner, events = run_spec(inside, repo)
    expected = repo / "build/agents" / runner.run_id / "a"
    assert [e.metadata["text"] for e in of_type(events, "agent_output", "a")] == [str(expected)]


WRITER = """
import os, sys
from pathlib import Path
me = os.environ["ONEIE_AGENT_ID"]
Path(f"{me}.txt").write_text(f"written by {me}\\n")
print("cwd", os.getcwd())
"""


def test_each_agent_works_in_its_own_worktree_and_its_diff_stat_is_recorded(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo")
    body = script(tmp_path, "writer.py", WRITER)
    agents = [
        {"id": a, "command": {"argv": [PY, body]}}
        for a in ("agent-backend", "agent-frontend", "agent-quality")
    ]
    agents[2]["isolation"] = "none"  # per-agent override: works in the project itself
    spec = loaded(agents, isolation="worktree")
    store = RunStore(tmp_path / "runs.sqlite3")
    try:
        runner, events = run_spec(spec, repo, store=store)
    finally:
        store.close()
    for agent in ("agent-backend", "agent-frontend"):
        assert status_of(events, agent) == "completed"
        wt = repo / ".oneie/worktrees" / runner.run_id / agent
        assert sorted(p.name for p in wt.iterdir() if p.name != ".git") == ["README.md", f"{agent}.txt"]
        infos = [e.metadata for e in of_type(events, "agent_info", agent) if "diff_stat" in e.metadata]
        assert infos[-1]["diff_stat"] == "1 file changed, +1 -0"
        assert infos[-1]["changed_paths"] == [f"{agent}.txt"]
        assert infos[-1]["branch"] == f"oneie/{runner.run_id}/{agent}"
        # recorded before the run finished
        assert of_type(events, "agent_info", agent)[-1].seq < of_type(events, "run_finished")[0].seq
    assert (repo / "agent-quality.txt").exists()  # not isolated
    assert not of_type(events, "agent_info", "agent-quality") or all(
        "diff_stat" not in e.metadata for e in of_type(events, "agent_info", "agent-quality")
    )
    assert "agent-backend" in _git(repo, "branch", "--list", "oneie/*")


def _cli(repo: Path, *args: str, columns: int = 80) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "oneie_tui", *args],
        cwd=repo,
        env={**os.environ, "COLUMNS": str(columns)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_oneie_worktrees_lists_and_prunes_finished_ones(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo")
    body = script(tmp_path, "writer.py", WRITER)
    spec_file = repo / "spec.toml"
    spec_file.write_text(
        spec_text([{"id": a, "command": {"argv": [PY, body]}} for a in ("one", "two")], isolation="worktree")
    )
    _git(repo, "add", "spec.toml")
    _git(repo, "commit", "-qm", "spec")
    done = _cli(repo, "run", "spec.toml", "--headless", columns=200)
    assert done.returncode == 0, done.stderr
    assert "changes" in done.stdout and done.stdout.count("1 file changed, +1 -0") == 2  # summary
    listed = _cli(repo, "worktrees")
    assert listed.returncode == 0, listed.stderr
    assert "one" in listed.stdout and "two" in listed.stdout
    assert "1 file changed" in listed.stdout and "completed" in listed.stdout
    items = list_worktrees(repo)
    assert len(items) == 2
    # Each agent's work was committed on its branch when it ended, so the prune keeps both
    # branches; a branch without commits of its own goes (test below).
    one = next(i for i in items if i.agent_id == "one")
    pruned = _cli(repo, "worktrees", "--prune")
    assert pruned.returncode == 0, pruned.stderr
    assert "2 removed" in pruned.stdout and "branch kept" in pruned.stdout
    assert list_worktrees(repo) == []
    assert not one.path.exists()
    branches = _git(repo, "branch", "--list", "oneie/*")
    assert one.branch in branches and "/two" in branches


def test_worktrees_outside_a_repository_fails_clearly(tmp_path: Path) -> None:
    done = _cli(tmp_path, "worktrees")
    assert done.returncode == 2
    assert "not inside a git repository" in done.stderr and "Traceback" not in done.stderr


def test_prune_keeps_worktrees_of_unknown_runs_unless_forced(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo")
    item_wt = create(repo, worktrees_dir(repo), "ghost-run", "a")
    done = _cli(repo, "worktrees", "--prune")
    assert "kept" in done.stdout and item_wt.path.exists()
    done = _cli(repo, "worktrees", "--prune", "--force")
    assert "1 removed" in done.stdout and not item_wt.path.exists()
