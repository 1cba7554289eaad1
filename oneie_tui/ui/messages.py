"""Messages of the dashboard.

Widgets never touch the runner: they post *intents* (`PauseAgent`, `CancelAgent`, ...)
that bubble to the screen, which hands them to the run-control callable its creator gave
it (`AgentControl`). A screen without a runner (replay) has none, so they do nothing there.
Screens never call the app: what they ask of it goes up as a message (`SaveSpec`,
`RunSpec`, `SpecPicked`, `ResumeRequested`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

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


class MessageAgent(AgentIntent):
    """Say something to the agent: at its next boundary while it works, or as a follow-up
    attempt in the same worktree and session once it has finished (the runner's
    `send_message`). Posted by the message input and by a review comment on a diff line."""

    def __init__(self, agent_id: str, text: str) -> None:
        super().__init__(agent_id)
        self.text = text


class ComposeMessage(AgentIntent):
    """Open the message input for the agent (the panel's `m`); its screen asks, then posts
    `MessageAgent` with what was typed."""


class ZoomAgent(AgentIntent):
    """Open the agent full-screen."""


AgentControl = Callable[[PauseAgent | CancelAgent | RestartAgent], None]
"""What a screen calls with an intent for the live run (the app's `control`)."""


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


class LeaveEditor(Message):
    """Escape in the spec editor: the screen moves the focus out of it."""


class SaveSpec(Message):
    """Save the editor's text (as typed) to the spec's file."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class RunSpec(Message):
    """Run the spec as it is in the editor (every agent on `backend` when given)."""

    def __init__(self, text: str, backend: str | None = None) -> None:
        super().__init__()
        self.text = text
        self.backend = backend


class SpecPicked(Message):
    """A spec was chosen in the picker."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path


class ResumeRequested(Message):
    """Continue an interrupted run (history's `R`)."""

    def __init__(self, run_id: str) -> None:
        super().__init__()
        self.run_id = run_id


class ReviewRequested(Message):
    """Review (and land) the isolated agents' work of a run: the one on the dashboard (`d`),
    or `run_id` (history's `v`). The app opens it, so a run the dashboard holds takes
    review comments however the screen was reached."""

    def __init__(self, run_id: str | None = None) -> None:
        super().__init__()
        self.run_id = run_id
