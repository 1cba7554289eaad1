"""`oneie serve`'s checks that need no browser: the token, loopback, origins, the tab command."""

from __future__ import annotations

import shlex
import sys

import pytest

from oneie_tui.cli import main
from oneie_tui.commands.serve import is_loopback, serve_token
from oneie_tui.commands.serve_rules import app_command, same_origin
from oneie_tui.config import load_config
from oneie_tui.paths import config_file


def _config(text: str) -> None:
    config_file().parent.mkdir(parents=True, exist_ok=True)
    config_file().write_text(text, encoding="utf-8")


def test_the_token_comes_from_the_config_or_is_fresh() -> None:
    first, second = serve_token(), serve_token()
    assert first != second and len(first) >= 32
    _config('[serve]\ntoken = "a-long-enough-team-token"\n')
    assert serve_token() == "a-long-enough-team-token"
    assert load_config()[1] == []  # [serve] is a known section


def test_a_short_configured_token_is_bad_usage(capsys: pytest.CaptureFixture[str]) -> None:
    _config('[serve]\ntoken = "short"\n')
    assert main(["serve", "--port", "1"]) == 2
    assert capsys.readouterr().err.strip() == "oneie: [serve] token in the config: at least 16 characters"


def test_a_bad_port_is_bad_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--port", "70000"]) == 2
    assert "--port" in capsys.readouterr().err


def test_loopback_and_origin() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.1.2.3") and not is_loopback("example.org")
    assert same_origin(None, "127.0.0.1:8000")
    assert same_origin("http://127.0.0.1:8000", "127.0.0.1:8000")
    assert not same_origin("http://evil.example", "127.0.0.1:8000")


def test_a_tab_runs_a_read_only_command_of_this_python() -> None:
    argv = shlex.split(app_command("watch", "20260101-000000-abc;rm"))
    assert argv == [sys.executable, "-m", "oneie_tui", "watch", "20260101-000000-abc;rm"]
