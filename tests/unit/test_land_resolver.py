"""`oneie land --resolve-with AGENT` (or `[land] resolve_with`): a branch that conflicts
goes to a resolver agent working in a worktree of the landed branch; its resolution lands,
a failing resolver leaves the branch out with the reason, and the user's branch and
working tree stay exactly as they were."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from oneie_tui.events import EventType
from oneie_tui.land.resolve import MAX_HUNKS_CHARS, Conflict, conflict_hunks, task_text
from oneie_tui.spec.loader import SpecError, parse_spec_text
from oneie_tui.store.sqlite import RunStore
from tests.fakes.process_tools import PY, git_out, git_repo, oneie_with_store

EDIT = """
import os, pathlib
path = pathlib.Path("lines.txt")
lines = path.read_text().splitlines()
lines[0] = os.environ["TEXT"]
path.write_text("\\n".join(lines) + "\\n")
"""

# A command resolver: outside a landing (no ONEIE_RESOLVE_AGENT) it does nothing. Resolving,
# it keeps both sides of each conflict block, ours first, and says what it was told.
RESOLVE = """
import os, pathlib, sys
agent = os.environ.get("ONEIE_RESOLVE_AGENT")
if not agent:
    sys.exit(0)
print("resolving", agent, "on", os.environ["ONEIE_RESOLVE_BRANCH"])
print("task names:", "lines.txt" in os.environ["ONEIE_RESOLVE_TASK"], "<<<<<<<" in os.environ["ONEIE_RESOLVE_TASK"])
if os.environ.get("MODE") == "fail":
    print("cannot decide between the two greetings", file=sys.stderr)
    sys.exit(3)
for rel in os.environ["ONEIE_RESOLVE_PATHS"].splitlines():
    path = pathlib.Path(rel)
    out = []
    for line in path.read_text().splitlines():
        if not line.startswith(("<<<<<<<", "=======", ">>>>>>>")):
            out.append(line)
    path.write_text("\\n".join(out) + "\\n")
"""


_git = git_out
_oneie = oneie_with_store


def _squad(tmp_path: Path, resolver: dict[str, Any], land: dict[str, Any] | None = None) -> tuple[Path, Path, str]:
    """A finished run: `api` and `web` change the first line of lines.txt (a real conflict),
    plus the resolver agent of the roster."""
    repo = git_repo(tmp_path / "repo")
    (repo / "lines.txt").write_text("".join(f"line {i}\n" for i in range(4)))
    _git(repo, "add", "lines.txt")
    _git(repo, "commit", "-qm", "four lines")
    edit = tmp_path / "edit.py"
    edit.write_text(EDIT)
    agents = [
        {"id": "api", "task": "Greet from the api", "command": {"argv": [PY, str(edit)], "env": {"TEXT": "api was here"}}},
        {"id": "web", "task": "Greet from the web", "command": {"argv": [PY, str(edit)], "env": {"TEXT": "web was here"}}},
        resolver,
    ]
    spec: dict[str, Any] = {
        "feature": {"name": "Resolve test"},
        "run": {"backend": "command", "isolation": "worktree", "radar": {"enabled": False}, "on_failure": "continue"},
        "agents": agents,
    }
    if land:
        spec["land"] = land
    spec_file = tmp_path / "spec.toml"
    spec_file.write_text(tomli_w.dumps(spec))
    store = tmp_path / "runs.sqlite3"
    done = _oneie(repo, store, "run", str(spec_file), "--headless")
    assert done.returncode == 0, done.stderr
    s = RunStore(store)
    try:
        run_id = s.list_runs(limit=1)[0].id
    finally:
        s.close()
    return repo, store, run_id


def _command_resolver(tmp_path: Path, mode: str = "resolve") -> dict[str, Any]:
    body = tmp_path / "resolve.py"
    body.write_text(RESOLVE)
    return {"id": "fixer", "task": "Resolve conflicts", "command": {"argv": [PY, str(body)], "env": {"MODE": mode}}}


def _events(store: Path, run_id: str) -> list[Any]:
    s = RunStore(store)
    try:
        return list(s.events(run_id))
    finally:
        s.close()


def _user_state(repo: Path) -> tuple[str, str, str, bytes, dict[str, str]]:
    files = {p.name: p.read_text() for p in repo.iterdir() if p.is_file()}
    return (_git(repo, "symbolic-ref", "HEAD"), _git(repo, "rev-parse", "HEAD"), _git(repo, "status", "--porcelain"),
            (repo / ".git" / "index").read_bytes(), files)


def test_the_resolvers_resolution_lands_and_the_user_is_left_alone(tmp_path: Path) -> None:
    repo, store, run_id = _squad(tmp_path, _command_resolver(tmp_path))
    (repo / "lines.txt").write_text("my own uncommitted edit\n")  # the user works meanwhile
    before = _user_state(repo)

    done = _oneie(repo, store, "land", run_id, "--only", "api,web", "--resolve-with", "fixer")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "✓ api landed" in done.stdout
    assert "✓ web landed: conflicts resolved by fixer" in done.stdout

    assert _user_state(repo) == before  # branch, commit, status, index and files as they were
    landed = f"oneie/{run_id}/landed"
    assert _git(repo, "show", f"{landed}:lines.txt") == "api was here\nweb was here\nline 1\nline 2\nline 3\n"
    # the resolution is a merge of both sides: the agent's branch is in the landed history
    _git(repo, "merge-base", "--is-ancestor", f"oneie/{run_id}/web", landed)
    _git(repo, "merge-base", "--is-ancestor", f"oneie/{run_id}/api", landed)
    assert "Oneie-Resolved-By: fixer" in _git(repo, "log", "-1", "--format=%B", landed)
    assert ".resolve" not in _git(repo, "worktree", "list")  # the resolver's worktree is gone

    events = _events(store, run_id)
    started = next(e for e in events if e.type == EventType.LAND_STARTED)
    assert started.metadata["resolve_with"] == "fixer"
    web = next(e for e in events if e.type == EventType.AGENT_LANDED and e.actor == "web")
    assert web.metadata["resolved_by"] == "fixer" and web.metadata["paths"] == ["lines.txt"]
    assert web.metadata["conflicts_with"] == ["api"]
    finished = next(e for e in events if e.type == EventType.LAND_FINISHED)
    assert finished.metadata["status"] == "landed" and finished.metadata["resolved_by"] == {"web": "fixer"}

    report = _oneie(repo, store, "export", run_id, "--format", "md")
    assert report.returncode == 0, report.stderr
    assert "web (conflicts resolved by fixer)" in report.stdout


def test_a_spec_setting_names_the_resolver_and_a_failing_one_leaves_the_agent_out(tmp_path: Path) -> None:
    repo, store, run_id = _squad(tmp_path, _command_resolver(tmp_path, mode="fail"), land={"resolve_with": "fixer"})
    before = _user_state(repo)
    done = _oneie(repo, store, "land", run_id, "--only", "api,web", "--json")
    assert done.returncode == 1, done.stdout + done.stderr
    data = json.loads(done.stdout)
    assert data["landed"] == ["api"] and data["resolved_by"] == {}
    why = data["left_out"]["web"]
    assert why["reason"] == "conflicts" and why["paths"] == ["lines.txt"] and why["resolver"] == "fixer"
    assert why["resolver_error"].startswith("failed: ")
    assert "cannot decide between the two greetings" in why["resolver_output"]
    assert "resolving web on oneie/" in why["resolver_output"] and "task names: True True" in why["resolver_output"]
    assert _user_state(repo) == before
    left = next(e for e in _events(store, run_id) if e.type == EventType.AGENT_LEFT_OUT)
    assert left.actor == "web" and left.metadata["resolver"] == "fixer"
    assert _git(repo, "show", f"oneie/{run_id}/landed:lines.txt").startswith("api was here\n")
    assert ".resolve" not in _git(repo, "worktree", "list")


def test_a_sim_resolver_runs_offline_and_leaving_markers_is_a_failure(tmp_path: Path) -> None:
    sim = {"id": "fixer", "backend": "sim", "isolation": "none", "sim": {"duration": 0.2}}
    repo, store, run_id = _squad(tmp_path, sim)
    done = _oneie(repo, store, "land", run_id, "--only", "api,web", "--resolve-with", "fixer")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "✗ web left out: conflicts in lines.txt (with api)" in done.stdout
    assert "resolver fixer: conflict markers left in lines.txt" in done.stdout
    # a dry run never starts the resolver
    dry = _oneie(repo, store, "land", run_id, "--only", "api,web", "--resolve-with", "fixer", "--dry-run", "--json")
    assert json.loads(dry.stdout)["left_out"]["web"]["resolver_error"] == "not run (dry run)"


def test_an_unknown_resolver_is_a_usage_error(tmp_path: Path) -> None:
    repo, store, run_id = _squad(tmp_path, _command_resolver(tmp_path))
    done = _oneie(repo, store, "land", run_id, "--resolve-with", "nobody")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"oneie: --resolve-with: 'nobody' is not an agent of run {run_id} (its agents: api, web, fixer)"
    ]
    assert _git(repo, "branch", "--list", f"oneie/{run_id}/landed") == ""  # nothing moved


def test_the_spec_checks_its_resolver() -> None:
    text = '[feature]\nname = "x"\n[land]\nresolve_with = "ghost"\n[[agents]]\nid = "a"\n'
    with pytest.raises(SpecError) as caught:
        parse_spec_text(text, "spec.toml")
    assert "land.resolve_with" in str(caught.value) and "'ghost' is not an agent" in str(caught.value)
    assert parse_spec_text(text.replace("ghost", "a")).land.resolve_with == "a"


def test_the_task_names_the_conflict_with_bounded_hunks(tmp_path: Path) -> None:
    big = "".join(f"ours {i}\n" for i in range(5000))
    (tmp_path / "a.txt").write_text(f"top\n<<<<<<< HEAD\n{big}=======\ntheirs\n>>>>>>> abc\nend\n")
    (tmp_path / "b.bin").write_bytes(b"\0\1<<<<<<< x")
    hunks = conflict_hunks(tmp_path, ["a.txt", "b.bin"])
    assert hunks.startswith("--- a.txt line 2\n<<<<<<< HEAD\nours 0\n")
    assert "… (block cut)" in hunks and ">>>>>>> abc" in hunks and "ours 100\n" not in hunks
    assert "b.bin: binary" in hunks and len(hunks) <= MAX_HUNKS_CHARS + 100
    conflict = Conflict("r1", "oneie/r1/landed", "web", "oneie/r1/web", "c" * 40, "d" * 40, ["a.txt"], ["api"], "Greet")
    text = task_text(conflict, "fixer", ["a.txt"], hunks)
    for needle in ("agent web's branch oneie/r1/web", "  - a.txt", "Landed before it and changed the same files: api",
                   "web's own task was: Greet", "--- a.txt line 2"):
        assert needle in text


def test_the_timeline_names_the_resolver() -> None:
    from oneie_tui.events import Event
    from oneie_tui.views.land_view import describe_land, landing_of

    landed = Event(1, "r", 0.0, EventType.AGENT_LANDED, "web", metadata={"into": "oneie/r/landed", "resolved_by": "fixer"})
    left = Event(2, "r", 0.0, EventType.AGENT_LEFT_OUT, "docs", metadata={
        "reason": "conflicts", "paths": ["a.txt"], "resolver": "fixer", "resolver_error": "conflict markers left in a.txt"})
    assert describe_land(landed) == "landed into oneie/r/landed (conflicts resolved by fixer)"
    assert describe_land(left) == "left out: conflicts · a.txt; resolver fixer: conflict markers left in a.txt"
    assert landing_of([landed, left]).resolved == {"web": "fixer"}
