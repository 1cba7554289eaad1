"""claude-code without a login is refused before anything is created (issue 13 item 8)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from oneie_tui.agents.base import BackendOptions
from oneie_tui.cli import main
from oneie_tui.engine.session import RunOptions, SetupError, build_runner
from tests.fakes.process_tools import loaded
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
"""


@pytest.fixture
def no_login(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN",
                 "CLAUDE_CODE_USE_BEDROCK", "CLAUDE_CODE_USE_VERTEX", "CLAUDE_CONFIG_DIR"):
        monkeypatch.delenv(name, raising=False)
    _fake_cli(tmp_path / "node_modules/.bin")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_no_login_is_refused_before_the_run(no_login: Path) -> None:
    spec = loaded([{"id": "a"}], backend="claude-code")
    with pytest.raises(SetupError, match=r"not logged in: run `claude` and type /login"):
        build_runner(spec, RunOptions(backend_options=BackendOptions(project_dir=str(no_login))), None)


def test_a_stored_login_or_a_key_lets_it_start(no_login: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = loaded([{"id": "a"}], backend="claude-code")
    (Path.home() / ".claude").mkdir(parents=True, exist_ok=True)
    (Path.home() / ".claude/.credentials.json").write_text("{}", encoding="utf-8")
    build_runner(spec, RunOptions(backend_options=BackendOptions(project_dir=str(no_login))), None)
    (Path.home() / ".claude/.credentials.json").unlink()
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test-not-a-real-key")
    build_runner(spec, RunOptions(backend_options=BackendOptions(project_dir=str(no_login))), None)


def test_the_cli_says_one_line_exits_2_and_creates_nothing(
    no_login: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = no_login / "login.toml"
    spec.write_text(SPEC, encoding="utf-8")
    code = main(["run", str(spec), "--headless", "--store", str(no_login / "runs.sqlite3")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and "not logged in" in err[0] and "success" not in err[0]
    assert not (no_login / ".oneie").exists()
