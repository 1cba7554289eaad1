"""Spec-provided paths cannot escape the project folder: `profile`, `command.cwd` and the
worktree base (`run.worktree_dir`). `../x`, an absolute path elsewhere, a sibling sharing
the project's name as a prefix (`/proj` vs `/proj-evil`) and a symlink pointing outside are
all refused with one clear message and exit 2, before anything outside is opened
(issue 7, item 8).

"Nothing opened" is checked with a Python audit hook in the CLI process: any `open`,
directory listing, `chdir`, `mkdir` or subprocess touching the outside folders is reported
on stderr, and the test fails on it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from oneie_tui.agents.process import resolve_cwd
from oneie_tui.agents.profiles import ProfileError, load_profile
from oneie_tui.git.worktree import WorktreeError, worktrees_dir
from oneie_tui.trust.pathguard import PathEscape, confine
from tests.reliability.helpers import no_traceback

AUDIT = r"""
import os, sys
FORBIDDEN = [os.path.realpath(p) for p in sys.argv[1:3]]
del sys.argv[1:3]
_busy = [False]
def _outside(value):
    if isinstance(value, bytes):
        value = os.fsdecode(value)
    if not isinstance(value, (str, os.PathLike)):
        return False
    real = os.path.realpath(os.path.abspath(value))
    return any(real == f or real.startswith(f + os.sep) for f in FORBIDDEN)
def hook(event, args):
    if _busy[0] or event not in ("open", "os.listdir", "os.scandir", "os.chdir", "os.mkdir",
                                 "subprocess.Popen", "os.posix_spawn", "os.exec"):
        return
    _busy[0] = True
    try:
        values = list(args)
        if event == "subprocess.Popen":
            values = [*(args[1] or []), args[2]]
        for v in values:
            if _outside(v):
                os.write(2, f"OPENED-OUTSIDE {event} {v}\n".encode())
    finally:
        _busy[0] = False
sys.addaudithook(hook)
from oneie_tui.cli import main
sys.exit(main(sys.argv[1:]))
"""

PROFILE = "---\nname: evil\nmodel: sonnet\n---\nYou are evil.\n"
ATTACKS = ["dotdot", "absolute", "sibling", "symlink"]
KINDS = ["profile", "cwd", "worktree_dir"]


def _layout(base: Path) -> tuple[Path, Path, Path]:
    """base/proj (a git repo with one commit), base/proj-evil, base/outside, proj/link → outside."""
    proj, evil, outside = base / "proj", base / "proj-evil", base / "outside"
    for folder in (proj, evil, outside):
        folder.mkdir()
        (folder / "p.md").write_text(PROFILE)
    (proj / "link").symlink_to(outside, target_is_directory=True)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    subprocess.run([*git, "init", "-q"], cwd=proj, check=True)
    subprocess.run([*git, "add", "p.md"], cwd=proj, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "init"], cwd=proj, check=True)
    return proj, evil, outside


def _written(kind: str, attack: str, evil: Path, outside: Path) -> str:
    leaf = {"profile": "p.md", "cwd": "", "worktree_dir": "wt"}[kind]
    target = {
        "dotdot": Path("..") / "outside" / leaf,
        "absolute": outside / leaf,
        "sibling": evil / leaf,
        "symlink": Path("link") / leaf,
    }[attack]
    return str(target).rstrip("/")


def _spec(kind: str, written: str) -> str:
    head = '[feature]\nname = "paths"\n'
    if kind == "profile":
        return head + f'[run]\nbackend = "claude"\n[[agents]]\nid = "a"\nprofile = {written!r}\n'
    if kind == "cwd":
        return head + (
            '[run]\nbackend = "command"\n[[agents]]\nid = "a"\n'
            f"command = {{ argv = [{sys.executable!r}, '-c', 'print(1)'], cwd = {written!r} }}\n"
        )
    return head + (
        f'[run]\nbackend = "sim"\nisolation = "worktree"\nworktree_dir = {written!r}\n'
        '[[agents]]\nid = "a"\nsim = { duration = 0.1 }\n'
    )


@pytest.mark.parametrize("attack", ATTACKS)
@pytest.mark.parametrize("kind", KINDS)
def test_spec_path_escaping_the_project_is_refused(tmp_path: Path, kind: str, attack: str) -> None:
    proj, evil, outside = _layout(tmp_path)
    written = _written(kind, attack, evil, outside)
    (proj / "spec.toml").write_text(_spec(kind, written))
    env = {**os.environ, "ANTHROPIC_API_KEY": "sk-ant-TESTSECRET", "ONEIE_STORE": str(tmp_path / "runs.sqlite3")}
    env.pop("ANTHROPIC_BASE_URL", None)
    result = subprocess.run(
        # The base URL is a dead loopback port: were a profile wrongly accepted, the run
        # would fail there, never reach the network.
        [sys.executable, "-c", AUDIT, str(outside), str(evil), "run", "spec.toml", "--headless", "--json",
         "--base-url", "http://127.0.0.1:9"],
        cwd=proj, env=env, capture_output=True, text=True, timeout=60,
    )
    assert "OPENED-OUTSIDE" not in result.stderr, result.stderr
    assert result.returncode == 2, result.stdout + result.stderr
    assert no_traceback(result.stdout + result.stderr)
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    assert "outside the project folder" in lines[0] and repr(written) in lines[0], lines[0]
    assert "run_started" not in result.stdout
    assert not (outside / "wt").exists() and not (evil / "wt").exists()


@pytest.mark.parametrize("kind", KINDS)
def test_the_same_paths_inside_the_project_are_accepted(tmp_path: Path, kind: str) -> None:
    """The control: a path inside the project passes each check, so the refusals above are
    about escaping, not about the checks refusing everything."""
    proj, _, _ = _layout(tmp_path)
    (proj / "sub").mkdir()
    (proj / "inner").symlink_to(proj / "sub", target_is_directory=True)  # a link that stays inside
    if kind == "profile":
        assert load_profile("p.md", proj).name == "evil"
        assert load_profile(str(proj / "p.md"), proj).name == "evil"
    elif kind == "cwd":
        assert confine("inner", proj, "command.cwd") == (proj / "sub").resolve()
        assert confine("sub/../sub", proj, "command.cwd") == (proj / "sub").resolve()
    else:
        assert worktrees_dir(proj, ".oneie/worktrees") == (proj / ".oneie/worktrees").resolve()
        assert worktrees_dir(proj, "inner/wt") == (proj / "sub/wt").resolve()


@pytest.mark.parametrize("attack", ATTACKS)
def test_each_guard_refuses_in_process_too(tmp_path: Path, attack: str) -> None:
    """The same four escapes against the functions themselves (the run-time check of
    `command.cwd` re-checks against the agent's actual folder, e.g. its worktree)."""
    proj, evil, outside = _layout(tmp_path)
    with pytest.raises(ProfileError, match="outside the project folder"):
        load_profile(_written("profile", attack, evil, outside), proj)
    with pytest.raises(PathEscape, match="outside the project folder"):
        confine(_written("cwd", attack, evil, outside) or ".", proj, "command.cwd")
    with pytest.raises(WorktreeError, match="outside the project folder"):
        worktrees_dir(proj, _written("worktree_dir", attack, evil, outside))

    class Ctx:
        workdir = str(proj)

    from oneie_tui.agents.base import AgentFailure

    with pytest.raises(AgentFailure, match="outside the project folder"):
        resolve_cwd(Ctx(), _written("cwd", attack, evil, outside))  # type: ignore[arg-type]
