"""Messages of the dashboard.

Widgets never touch the runner: they post *intents* (`PauseAgent`, `CancelAgent`, ...)
that bubble to the screen, which asks the app's live run to act. A screen without a
runner (replay) simply does not handle them, so they are ignored there.
"""

from __future__ import annotations

from textual.message import Message


class AgentIntent(Message):
    """Base of the per-agent intents."""

    def __init__(self, agent_id: str) -> None:
        super().__init__()
        self.agent_id = agent_id


class PauseAgent(AgentIntent):
    """Pause the agent, or resume it if it is paused."""


class CancelAgent(AgentIntent):
    """Cancel the agent."""


class RestartAgent(AgentIntent):
    """Run a finished, failed or cancelled agent again (or restart a live one)."""


class ZoomAgent(AgentIntent):
    """Open the agent full-screen."""


class RunUpdated(Message):
    """The RunView changed since the last frame. The receiver pulls what changed from the
    bridge (`take_dirty`), so a newer one supersedes any still queued."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, RunUpdated)


class RunStatusChanged(Message):
    """The run's status changed (running, completed, failed...). Only the newest matters."""

    def __init__(self, status: str, reason: str = "") -> None:
        super().__init__()
        self.status = status
        self.reason = reason

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, RunStatusChanged)


class SpecEdited(Message):
    """The editor's text was validated (debounced): `error` is None when it is valid."""

    def __init__(self, text: str, error: str | None, line: int | None) -> None:
        super().__init__()
        self.text = text
        self.error = error
        self.line = line

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, SpecEdited)
