"""Agent backends, looked up by name and imported only when used.

Importing lazily keeps `oneie --help` and sim runs free of `anthropic` and friends.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from oneie_tui.agents.base import AgentBackend

BACKENDS: dict[str, str] = {
    "sim": "oneie_tui.agents.sim:SimBackend",
    "claude": "oneie_tui.agents.claude.backend:ClaudeBackend",
    "command": "oneie_tui.agents.process:CommandBackend",
    "claude-code": "oneie_tui.agents.claude_code:ClaudeCodeBackend",
}


class UnknownBackend(Exception):
    pass


def backend_module(name: str) -> tuple[ModuleType, str]:
    try:
        target = BACKENDS[name]
    except KeyError:
        known = ", ".join(sorted(BACKENDS))
        raise UnknownBackend(f"backend {name!r} is not available (known: {known})") from None
    module_name, _, attr = target.partition(":")
    try:
        return importlib.import_module(module_name), attr
    except ModuleNotFoundError as exc:
        raise UnknownBackend(f"backend {name!r} cannot be loaded: {exc}") from None


def load_backend(name: str) -> AgentBackend:
    """A fresh backend instance for `name`."""
    module, attr = backend_module(name)
    backend: AgentBackend = getattr(module, attr)()
    return backend
