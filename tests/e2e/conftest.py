"""What every test with the real Claude Code CLI shares."""

from __future__ import annotations

import pytest


@pytest.fixture
def offline_claude_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real CLI, kept offline: a fake key for the scripted server, no telemetry, no
    auto-update, and no token of the user's that would win over the key."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test-not-a-real-key")
    monkeypatch.setenv("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
    monkeypatch.setenv("DISABLE_AUTOUPDATER", "1")
    monkeypatch.delenv("ANTHROPIC_AUTH_TOKEN", raising=False)
