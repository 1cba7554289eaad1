"""Agent backends, looked up by name and imported only when used.

Importing lazily keeps `oneie --help` and sim runs free of `anthropic` and friends.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from oneie_tui.agents.base import AgentBackend

BACKENDS: dict[str, str] = {
    "sim": "oneie_tui.agents.sim:SimBackend",
    "claude": "oneie_tui.agents.claude.backend:ClaudeBackend",
    "command": "oneie_tui.agents.process:CommandBackend",
    "claude-code": "oneie_tui.agents.claude_code:ClaudeCodeBackend",
    "codex": "oneie_tui.agents.codex:CodexBackend",
    "gemini": "oneie_tui.agents.gemini:GeminiBackend",
}


class UnknownBackend(Exception):
    pass


def backend_class(name: str) -> type[AgentBackend]:
    """The backend class registered as `name`, its module imported now."""
    try:
        target = BACKENDS[name]
    except KeyError:
        known = ", ".join(sorted(BACKENDS))
        raise UnknownBackend(f"backend {name!r} is not available (known: {known})") from None
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise UnknownBackend(f"backend {name!r} cannot be loaded: {exc}") from None
    cls: type[AgentBackend] = module.__dict__[attr]
    return cls


def load_backend(name: str) -> AgentBackend:
    """A fresh backend instance for `name`."""
    return backend_class(name)()
