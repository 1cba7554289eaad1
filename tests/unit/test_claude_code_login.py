"""claude-code without a login is refused before anything is created (issue 13 item 8,
issue 16 item 4). The real CLI's `claude auth status` decides when a stored login may exist
(it spends no tokens); a key in the environment is enough without asking it; a fresh home
has no login, and the CLI is not even started there."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from oneie_tui.agents.base import BackendOptions
from oneie_tui.agents.claude_code import auth_status
from oneie_tui.cli import main
from oneie_tui.engine.session import RunOptions, SetupError, build_runner
from tests.fakes.claude_code_script import claude_cli
from tests.fakes.process_tools import git_repo, loaded
from tests.unit.test_process_claude_code import _fake_cli

pytestmark = pytest.mark.skipif(os.uname().sysname == "Darwin", reason="macOS keeps the login in the Keychain")

SPEC = """
[feature]
name = "Needs a login"

[run]
backend = "claude-code"
isolation = "worktree"

[[agents]]
id = "solo"
task = "say hello"
claude_code = {{ cli = "{cli}" }}
"""


@pytest.fixture
def no_login(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN",
                 "CLAUDE_CODE_USE_BEDROCK", "CLAUDE_CODE_USE_VERTEX", "CLAUDE_CONFIG_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # a home of the test's own
    (tmp_path / "home").mkdir(exist_ok=True)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _spec(cli: str, **opts: object) -> object:
    return loaded([{"id": "a", "claude_code": {"cli": cli, **opts}}], backend="claude-code")


def _build(spec: object, project: Path) -> None:
    build_runner(spec, RunOptions(backend_options=BackendOptions(project_dir=str(project))), None)  # type: ignore[arg-type]


def _logged_out_home(home: Path) -> None:
    """What a home looks like after `claude` ran once and logged out (or its token was
    deleted): an account in ~/.claude.json, no credentials."""
    (home / ".claude").mkdir(exist_ok=True)
    (home / ".claude.json").write_text(json.dumps({"oauthAccount": {"emailAddress": "x@example.com"}}))


def _key_helper_home(home: Path) -> None:
    """A login the file check cannot see: an apiKeyHelper in the CLI's settings."""
    (home / ".claude").mkdir(exist_ok=True)
    (home / ".claude/settings.json").write_text(json.dumps({"apiKeyHelper": "echo sk-ant-test-not-real"}))


def test_a_fresh_home_is_refused_without_starting_the_cli(no_login: Path) -> None:
    marker = no_login / "cli-ran"
    cli = no_login / "bin/claude"
    cli.parent.mkdir()
    cli.write_text(f"#!/bin/sh\ntouch {marker}\nexit 0\n")
    cli.chmod(0o755)
    with pytest.raises(SetupError, match=r"not logged in: run `claude` and type /login"):
        _build(_spec(str(cli)), no_login)
    assert not marker.exists()  # nothing ran, nothing was written in the home
    assert not (no_login / "home/.claude.json").exists() and not (no_login / "home/.claude").exists()


def test_the_real_cli_says_a_logged_out_home_is_not_logged_in(no_login: Path) -> None:
    home = no_login / "home"
    _logged_out_home(home)  # the file check alone would have let this run start
    assert auth_status(claude_cli(), {**os.environ}) is False
    with pytest.raises(SetupError, match="not logged in"):
        _build(_spec(claude_cli()), no_login)


def test_the_real_cli_accepts_a_key_helper_the_files_do_not_show(no_login: Path) -> None:
    _key_helper_home(no_login / "home")
    assert auth_status(claude_cli(), {**os.environ}) is True
    _build(_spec(claude_cli()), no_login)


def test_a_key_in_the_environment_or_the_spec_is_enough(no_login: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _logged_out_home(no_login / "home")  # the CLI would say no: it is not asked
    _build(_spec(claude_cli(), env={"ANTHROPIC_API_KEY": "sk-test-not-a-real-key"}), no_login)
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN"):
        monkeypatch.setenv(name, "sk-test-not-a-real-key")
        _build(_spec(claude_cli()), no_login)
        monkeypatch.delenv(name)


def test_a_cli_that_cannot_say_falls_back_to_the_stored_files(no_login: Path) -> None:
    fake = str(_fake_cli(no_login / "node_modules/.bin"))  # exits 0, prints nothing
    home = no_login / "home"
    (home / ".claude").mkdir()
    assert auth_status(fake, {**os.environ}) is None
    with pytest.raises(SetupError, match="not logged in"):
        _build(_spec(fake), no_login)
    (home / ".claude/.credentials.json").write_text("{}", encoding="utf-8")
    _build(_spec(fake), no_login)


def _branches(repo: Path) -> list[str]:
    out = subprocess.run(["git", "branch", "--list", "--format=%(refname:short)"], cwd=repo,
                         capture_output=True, text=True, check=True).stdout
    return sorted(out.split())


def test_oneie_run_with_the_real_cli_says_one_line_exits_2_and_creates_nothing(
    no_login: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = git_repo(no_login / "repo")
    _logged_out_home(no_login / "home")
    before = _branches(repo)
    spec = repo / "login.toml"
    spec.write_text(SPEC.format(cli=claude_cli()), encoding="utf-8")
    os.chdir(repo)
    code = main(["run", str(spec), "--headless", "--store", str(no_login / "runs.sqlite3")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and "not logged in" in err[0] and "ANTHROPIC_API_KEY" in err[0], err
    assert not (repo / ".oneie").exists()  # no worktree
    assert _branches(repo) == before  # no branch
