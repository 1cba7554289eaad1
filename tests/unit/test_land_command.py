"""`oneie land`: dependency order, left-out report, recorded events, acceptance checks,
exit codes, and the user's checked-out branch and working tree left alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import tomli_w

from oneie_tui.events import EventType
from oneie_tui.store.sqlite import RunStore
from tests.fakes.process_tools import PY, git_out, git_repo, oneie_with_store

EDIT = """
import os, pathlib
target, line, text = os.environ["TARGET"], int(os.environ["LINE"]), os.environ["TEXT"]
path = pathlib.Path(target)
lines = path.read_text().splitlines() if path.exists() else []
lines += [""] * (line + 1 - len(lines))
lines[line] = text
path.write_text("\\n".join(lines) + "\\n")
for name in os.environ.get("EMITS", "").split():
    print("::oneie event " + name, flush=True)
"""

CHECK = """
import pathlib, sys
first = pathlib.Path("lines.txt").read_text().splitlines()[0]
ok = pathlib.Path("schema.txt").exists() and first == sys.argv[1]
print("first line:", first)
sys.exit(0 if ok else 1)
"""


_git = git_out
_oneie = oneie_with_store


def _agent(edit: str, agent_id: str, target: str, line: int, text: str, **more: object) -> dict[str, object]:
    env = {"TARGET": target, "LINE": str(line), "TEXT": text, "EMITS": " ".join(more.pop("emits_now", []))}  # type: ignore[arg-type]
    return {"id": agent_id, "command": {"argv": [PY, edit], "env": env}, **more}


def _squad(tmp_path: Path, want_first: str = "api was here") -> tuple[Path, Path, Path]:
    """A repository and a finished run of four agents: `schema` emits what `api` waits for;
    `api` and `web` change the same line; `docs` changes a file of its own."""
    repo = git_repo(tmp_path / "repo")
    (repo / "lines.txt").write_text("".join(f"line {i}\n" for i in range(5)))
    _git(repo, "add", "lines.txt")
    _git(repo, "commit", "-qm", "five lines")
    edit = tmp_path / "edit.py"
    edit.write_text(EDIT)
    check = tmp_path / "check.py"
    check.write_text(CHECK)
    agents = [
        _agent(str(edit), "api", "lines.txt", 0, "api was here", after=["schema_ready"]),
        _agent(str(edit), "web", "lines.txt", 0, "web was here"),
        _agent(str(edit), "schema", "schema.txt", 0, "tables", emits=["schema_ready"], emits_now=["schema_ready"]),
        _agent(str(edit), "docs", "docs.txt", 0, "documented"),
    ]
    spec = {
        "feature": {
            "name": "Land test",
            "acceptance": ["plain text criterion", {"text": "the api line is first", "check": [PY, str(check), want_first], "timeout": 60}],
        },
        "run": {"backend": "command", "isolation": "worktree", "radar": {"interval": 0.2}},
        "agents": agents,
    }
    spec_file = tmp_path / "spec.toml"
    spec_file.write_text(tomli_w.dumps(spec))
    store = tmp_path / "runs.sqlite3"
    done = _oneie(repo, store, "run", str(spec_file), "--headless")
    assert done.returncode == 0, done.stderr
    return repo, store, spec_file


def _run_id(store: Path) -> str:
    s = RunStore(store)
    try:
        return s.list_runs(limit=1)[0].id
    finally:
        s.close()


def _events(store: Path, run_id: str) -> list:
    s = RunStore(store)
    try:
        return list(s.events(run_id))
    finally:
        s.close()


def _snapshot(repo: Path) -> tuple[str, str, str, dict[str, str]]:
    files = {p.name: p.read_text() for p in repo.iterdir() if p.is_file()}
    return (_git(repo, "symbolic-ref", "HEAD"), _git(repo, "rev-parse", "HEAD"), _git(repo, "status", "--porcelain"), files)


def test_land_merges_in_dependency_order_reports_the_conflict_and_leaves_the_user_alone(tmp_path: Path) -> None:
    repo, store, _ = _squad(tmp_path)
    run_id = _run_id(store)
    # The user keeps working meanwhile: a change and a new file, uncommitted, on main.
    (repo / "README.md").write_text("project\nmy own edit\n")
    (repo / "notes.txt").write_text("mine\n")
    before = _snapshot(repo)
    index_before = (repo / ".git" / "index").read_bytes()

    done = _oneie(repo, store, "land", run_id)
    assert done.returncode == 1, done.stdout + done.stderr  # web was left out
    out = done.stdout
    assert "✓ schema landed" in out and "✓ api landed" in out and "✓ docs landed" in out
    assert "✗ web left out: conflicts in lines.txt (with api)" in out
    assert "✓ the api line is first" in out
    assert out.index("schema landed") < out.index("api landed") < out.index("web left out")

    assert _snapshot(repo) == before  # branch, commit, status and files all as they were
    assert (repo / ".git" / "index").read_bytes() == index_before
    landed = f"oneie/{run_id}/landed"
    files = sorted(_git(repo, "ls-tree", "--name-only", landed).split())
    assert files == ["README.md", "docs.txt", "lines.txt", "schema.txt"]
    assert _git(repo, "show", f"{landed}:lines.txt").splitlines()[0] == "api was here"
    assert _git(repo, "show", f"{landed}:README.md") == "project\n"  # not the user's edit
    assert _git(repo, "merge-base", landed, "main").strip() == _git(repo, "rev-parse", "main").strip()
    assert "oneie land: agent docs" in _git(repo, "log", "--format=%s", landed)

    events = _events(store, run_id)
    kinds = [(e.type, e.actor) for e in events if e.type.startswith(("land_", "agent_landed", "agent_left_out", "acceptance_"))]
    assert kinds == [
        (EventType.LAND_STARTED, "runner"),
        (EventType.AGENT_LANDED, "schema"),
        (EventType.AGENT_LANDED, "api"),
        (EventType.AGENT_LEFT_OUT, "web"),
        (EventType.AGENT_LANDED, "docs"),
        (EventType.ACCEPTANCE_VALIDATED, "runner"),
        (EventType.LAND_FINISHED, "runner"),
    ]
    left = next(e for e in events if e.type == EventType.AGENT_LEFT_OUT)
    assert left.metadata["paths"] == ["lines.txt"] and left.metadata["conflicts_with"] == ["api"]
    seqs = [e.seq for e in events]
    assert seqs == list(range(1, len(seqs) + 1))  # the run's seq stays gap-free
    # the radar saw web and api collide while they ran
    assert any(e.type == EventType.CONFLICT_DETECTED and set(e.metadata["agents"]) == {"api", "web"} for e in events)
    # no acceptance worktree is left behind
    assert "acceptance" not in _git(repo, "worktree", "list")

    # The Markdown report lists the landing and the acceptance table.
    report = _oneie(repo, store, "export", run_id, "--format", "md")
    assert report.returncode == 0, report.stderr
    assert "## Landing" in report.stdout and "| the api line is first | passed | 0 |" in report.stdout

    # Landing again is idempotent: everything that landed is already there.
    again = _oneie(repo, store, "land", run_id, "--only", "schema,api,docs", "--json")
    assert again.returncode == 0, again.stderr
    data = json.loads(again.stdout)
    assert data["landed"] == ["schema", "api", "docs"] and data["left_out"] == {}
    assert data["acceptance"][0]["passed"] is True
    assert _snapshot(repo) == before


def test_a_failing_check_fails_the_land_and_dry_run_moves_nothing(tmp_path: Path) -> None:
    repo, store, _ = _squad(tmp_path, want_first="something else")
    run_id = _run_id(store)
    dry = _oneie(repo, store, "land", run_id, "--only", "schema,docs", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    data = json.loads(dry.stdout)
    assert data["dry_run"] and data["landed"] == ["schema", "docs"] and data["checks_skipped"]
    assert _git(repo, "branch", "--list", f"oneie/{run_id}/landed") == ""
    done = _oneie(repo, store, "land", run_id, "--only", "schema,docs")
    assert done.returncode == 1
    assert "✗ the api line is first (exit 1)" in done.stdout and "first line: line 0" in done.stdout
    assert any(e.type == EventType.ACCEPTANCE_FAILED for e in _events(store, run_id))


def test_into_a_checked_out_branch_only_when_named_and_clean(tmp_path: Path) -> None:
    repo, store, _ = _squad(tmp_path)
    run_id = _run_id(store)
    (repo / "README.md").write_text("dirty\n")
    refused = _oneie(repo, store, "land", run_id, "--into", "main", "--only", "docs")
    assert refused.returncode == 2 and "uncommitted changes" in refused.stderr
    assert (repo / "README.md").read_text() == "dirty\n"
    _git(repo, "checkout", "--", "README.md")
    done = _oneie(repo, store, "land", run_id, "--into", "main", "--only", "docs")
    assert done.returncode == 1, done.stdout + done.stderr  # landed, but the api check fails
    assert "✓ docs landed" in done.stdout and "✗ the api line is first" in done.stdout
    assert (repo / "docs.txt").read_text() == "documented\n"  # named: main and its files moved
    assert _git(repo, "status", "--porcelain") == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--only", "nobody"], "--only: nobody is not an agent"),
        (["--into", "bad..name"], "not a valid branch name"),
        ([], "no run"),
    ],
)
def test_bad_usage_is_exit_2_with_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    repo, store, _ = _squad(tmp_path)
    run = "no-such-run" if message == "no run" else _run_id(store)
    done = _oneie(repo, store, "land", run, *args)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
