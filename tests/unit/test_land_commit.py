"""Item 1 of landing: an isolated agent's work is always committed on its branch."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.fakes.process_tools import PY, git_repo, loaded, of_type, run_spec, script, status_of

EDIT = """
import os, pathlib, sys
pathlib.Path(os.environ["ONEIE_AGENT_ID"] + ".txt").write_text("work\\n")
pathlib.Path("README.md").write_text("project\\nedited\\n")
print("wrote my file")
sys.exit(int(os.environ.get("EXIT", "0")))
"""


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout


@pytest.mark.parametrize("identity", [True, False])
def test_work_is_committed_on_the_agent_branch_whatever_the_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, identity: bool
) -> None:
    repo = git_repo(tmp_path / "repo")
    if not identity:  # a repository (and a user) with no identity configured at all
        _git(repo, "config", "--unset", "user.name")
        _git(repo, "config", "--unset", "user.email")
        monkeypatch.setenv("HOME", str(tmp_path))
        monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "no-gitconfig"))
        monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
        for var in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"):
            monkeypatch.delenv(var, raising=False)
    body = script(tmp_path, "edit.py", EDIT)
    agents = [
        {"id": "good", "command": {"argv": [PY, body]}},
        {"id": "bad", "command": {"argv": [PY, body], "env": {"EXIT": "3"}}},
    ]
    runner, events = run_spec(loaded(agents, isolation="worktree", on_failure="continue"), repo)
    assert status_of(events, "good") == "completed" and status_of(events, "bad") == "failed"
    for agent in ("good", "bad"):
        branch = f"oneie/{runner.run_id}/{agent}"
        files = _git(repo, "show", "--name-only", "--format=", branch).split()
        assert sorted(files) == ["README.md", f"{agent}.txt"]
        message = _git(repo, "log", "-1", "--format=%an%n%B", branch)
        assert message.startswith(f"oneie agent {agent}\n")
        assert f"Oneie-Agent: {agent}" in message and f"Oneie-Run: {runner.run_id}" in message
        info = [e.metadata for e in of_type(events, "agent_info", agent) if "diff_stat" in e.metadata][-1]
        assert info["commit"] and "commit_error" not in info
        assert info["diff_stat"] == "2 files changed, +2 -0"  # the committed work still counts
        wt = repo / ".oneie/worktrees" / runner.run_id / agent
        assert _git(wt, "status", "--porcelain") == ""
    assert "exited 0" in _git(repo, "log", "-1", "--format=%B", f"oneie/{runner.run_id}/good")
    assert _git(repo, "status", "--porcelain") == ""  # the project itself is untouched
    assert (repo / "README.md").read_text() == "project\n"


def test_an_agent_that_changed_nothing_gets_no_commit(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo")
    runner, events = run_spec(loaded([{"id": "idle", "command": {"argv": [PY, "-c", "pass"]}}], isolation="worktree"), repo)
    assert status_of(events, "idle") == "completed"
    branch = f"oneie/{runner.run_id}/idle"
    assert _git(repo, "rev-parse", branch) == _git(repo, "rev-parse", "main")
    info = [e.metadata for e in of_type(events, "agent_info", "idle") if "diff_stat" in e.metadata][-1]
    assert "commit" not in info
