"""The conflict radar, live: agents in worktrees, a real dry-run merge, scopes."""

from __future__ import annotations

import subprocess
from pathlib import Path

from oneie_tui.engine.runner import Runner
from oneie_tui.events import EventType
from oneie_tui.git.worktree import create, worktrees_dir
from oneie_tui.land.gitscan import changed_paths
from tests.fakes.process_tools import (
    PY,
    git_repo,
    loaded,
    of_type,
    run_spec,
    script,
    status_of,
    wait_until,
)

# Each agent writes its change, then waits: `<id>.revert` undoes it, `release` ends it.
AGENT = """
import os, pathlib, sys, time
me, flags = os.environ["ONEIE_AGENT_ID"], pathlib.Path(os.environ["FLAGS"])
target, line, text = os.environ["TARGET"], int(os.environ["LINE"]), os.environ["TEXT"]
path = pathlib.Path(target)
before = path.read_text() if path.exists() else None
lines = (before or "").splitlines() or [""] * (line + 1)
lines[line] = text
path.write_text("\\n".join(lines) + "\\n")
deadline = time.time() + 60
while time.time() < deadline and not (flags / "release").exists():
    if (flags / (me + ".revert")).exists() and before is not None and path.read_text() != before:
        path.write_text(before)
    time.sleep(0.05)
"""

TEN = "".join(f"line {i}\n" for i in range(10))


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True).stdout


def _repo(tmp_path: Path) -> Path:
    repo = git_repo(tmp_path / "repo")
    (repo / "lines.txt").write_text(TEN)
    _git(repo, "add", "lines.txt")
    _git(repo, "commit", "-qm", "ten lines")
    return repo


def _agent(body: str, flags: Path, agent_id: str, target: str, line: int, text: str, **more: object) -> dict[str, object]:
    env = {"FLAGS": str(flags), "TARGET": target, "LINE": str(line), "TEXT": text}
    return {"id": agent_id, "command": {"argv": [PY, body], "env": env}, **more}


def _findings(runner_events: list, kind: str) -> list[tuple[tuple[str, ...], str, tuple[str, ...]]]:
    return [
        (tuple(e.metadata["agents"]), str(e.metadata.get("kind", "")), tuple(e.metadata["paths"]))
        for e in runner_events
        if e.type == kind
    ]


def test_radar_flags_same_lines_and_same_file_while_agents_run_and_clears_when_undone(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    flags = tmp_path / "flags"
    flags.mkdir()
    body = script(tmp_path, "agent.py", AGENT)
    agents = [
        _agent(body, flags, "left", "lines.txt", 0, "left was here"),
        _agent(body, flags, "right", "lines.txt", 0, "right was here"),  # same line as left
        _agent(body, flags, "bottom", "lines.txt", 9, "bottom was here"),  # same file, apart
        _agent(body, flags, "alone", "alone.txt", 0, "nobody else"),
    ]
    spec = loaded(agents, isolation="worktree", radar={"interval": 0.1})
    seen: list = []

    async def control(runner: Runner) -> None:
        runner.bus.subscribe(seen.append)

        def detected(pair: tuple[str, str], kind: str) -> bool:
            return any(a == pair and k == kind for a, k, _ in _findings(seen, EventType.CONFLICT_DETECTED))

        await wait_until(lambda: detected(("left", "right"), "same_lines"), 30)
        await wait_until(lambda: detected(("left", "bottom"), "same_file"), 30)
        assert all(s.status == "running" for s in runner.agents.values())  # flagged while they work
        (flags / "right.revert").touch()
        await wait_until(
            lambda: any(a == ("left", "right") for a, _, _ in _findings(seen, EventType.CONFLICT_CLEARED)), 30
        )
        (flags / "release").touch()

    runner, events = run_spec(spec, repo, controller=control)
    assert all(status_of(events, a["id"]) == "completed" for a in agents)  # type: ignore[index]
    found = _findings(events, EventType.CONFLICT_DETECTED)
    assert (("left", "right"), "same_lines", ("lines.txt",)) in found
    assert (("left", "bottom"), "same_file", ("lines.txt",)) in found
    assert (("right", "bottom"), "same_file", ("lines.txt",)) in found
    assert not [f for f in found if "alone" in f[0]]
    cleared = _findings(events, EventType.CONFLICT_CLEARED)
    assert (("left", "right"), "", ("lines.txt",)) in cleared
    assert (("right", "bottom"), "", ("lines.txt",)) in cleared  # right's revert ended that one too
    # The radar never wrote into the project's object store nor an agent's index.
    assert _git(repo, "status", "--porcelain") == ""
    assert "radar snapshot" not in _git(repo, "log", "--all", "--format=%s")


def test_scope_exceeded_is_reported_and_can_pause_the_agent(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    flags = tmp_path / "flags"
    flags.mkdir()
    body = script(tmp_path, "agent.py", AGENT)
    agents = [
        _agent(body, flags, "docs", "README.md", 0, "docs", scope=["README.md", "docs/**"]),
        _agent(body, flags, "wild", "src.txt", 0, "out of scope", scope=["docs/**"]),
    ]
    spec = loaded(agents, isolation="worktree", radar={"interval": 0.1}, on_scope_exceeded="pause")

    async def control(runner: Runner) -> None:
        await wait_until(lambda: runner.agents["wild"].status == "paused", 30)
        runner.resume("wild")
        (flags / "release").touch()

    runner, events = run_spec(spec, repo, controller=control)
    exceeded = of_type(events, EventType.SCOPE_EXCEEDED)
    assert [(e.actor, e.metadata["paths"], e.metadata["on_scope_exceeded"]) for e in exceeded] == [
        ("wild", ["src.txt"], "pause")
    ]
    paused = of_type(events, EventType.AGENT_PAUSED, "wild")
    assert paused and paused[0].seq > exceeded[0].seq
    assert not of_type(events, EventType.AGENT_PAUSED, "docs")
    assert status_of(events, "wild") == "completed"


def test_changed_paths_sees_commits_staged_unstaged_and_untracked(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    wt = create(repo, worktrees_dir(repo), "r1", "a")
    assert changed_paths(wt.path, wt.base)[0].paths == frozenset()
    (wt.path / "committed.txt").write_text("x")
    _git(wt.path, "add", "committed.txt")
    _git(wt.path, "commit", "-qm", "c")
    (wt.path / "staged.txt").write_text("x")
    _git(wt.path, "add", "staged.txt")
    (wt.path / "lines.txt").write_text("changed\n")
    (wt.path / "sub").mkdir()
    (wt.path / "sub" / "new file.txt").write_text("x")
    found, calls = changed_paths(wt.path, wt.base)
    assert found.paths == {"committed.txt", "staged.txt", "lines.txt", "sub/new file.txt"}
    assert calls == 2
    assert "staged.txt" in _git(wt.path, "diff", "--cached", "--name-only")  # index kept as it was



def test_views_show_each_conflict_on_both_agents_until_it_clears() -> None:
    from oneie_tui.events import Event
    from oneie_tui.views.land_view import describe_land, landing_of
    from oneie_tui.views.run_view import RunView

    found = Event(1, "r", 1.0, EventType.CONFLICT_DETECTED, metadata={"agents": ["a", "b"], "paths": ["x.py"], "kind": "same_lines"})
    other = Event(2, "r", 2.0, EventType.CONFLICT_DETECTED, metadata={"agents": ["a", "c"], "paths": ["y.py"], "kind": "same_file"})
    gone = Event(3, "r", 3.0, EventType.CONFLICT_CLEARED, metadata={"agents": ["a", "b"], "paths": ["x.py"]})
    view = RunView()
    view.apply_all([found, other])
    assert view.agent("a").conflicts == {"b": "same_lines", "c": "same_file"}
    assert view.agent("b").conflicts == {"a": "same_lines"}
    view.apply(gone)
    assert view.agent("a").conflicts == {"c": "same_file"} and view.agent("b").conflicts == {}
    assert [e.seq for e in view.timeline] == [1, 2, 3]
    assert describe_land(found) == "⚠ conflict (same lines): a and b · x.py"
    assert list(landing_of([found, other, gone]).conflicts) == [("a", "c")]


def test_a_new_edit_of_an_already_changed_file_changes_the_signature(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    wt = create(repo, worktrees_dir(repo), "r1", "a")
    (wt.path / "lines.txt").write_text("first edit\n")
    first, _ = changed_paths(wt.path, wt.base)
    (wt.path / "lines.txt").write_text("second, longer edit\n")
    second, _ = changed_paths(wt.path, wt.base)
    assert first.paths == second.paths == {"lines.txt"}
    assert first.signature != second.signature  # so the radar snapshots and merges again
    assert not first.clean
