"""A finished run of command agents in worktrees, for the review screen's tests: `api` and
`web` change the same line of lines.txt, `docs` adds a file. Commits have fixed dates, so
every hash (and the screen's pictures) is the same each time."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from oneie_tui.store.sqlite import RunStore
from tests.fakes.process_tools import PY, git_repo, loaded, run_spec, script

RUN_ID = "20260101-000000-review"
EDIT = """
import os, pathlib
target, text = os.environ["TARGET"], os.environ["TEXT"]
path = pathlib.Path(target)
lines = path.read_text().splitlines() if path.exists() else []
lines[0:1] = [text]
path.write_text("\\n".join(lines) + "\\n")
"""


def finished_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, RunStore]:
    for var in ("GIT_AUTHOR_DATE", "GIT_COMMITTER_DATE"):
        monkeypatch.setenv(var, "2026-01-01T00:00:00Z")
    repo = git_repo(tmp_path / "repo")
    (repo / "lines.txt").write_text("".join(f"line {i}\n" for i in range(6)))
    subprocess.run(["git", "add", "lines.txt"], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-qm", "six lines"], cwd=repo, check=True)
    body = script(tmp_path, "edit.py", EDIT)
    agents = [
        {"id": a, "command": {"argv": [PY, body], "env": {"TARGET": t, "TEXT": x}}}
        for a, t, x in (("api", "lines.txt", "api was here"), ("web", "lines.txt", "web was here"),
                        ("docs", "docs.md", "# docs"))
    ]
    store = RunStore(tmp_path / "runs.sqlite3")
    run_spec(loaded(agents, isolation="worktree", radar={"interval": 0.1}), repo, store=store, run_id=RUN_ID)
    return repo, store
