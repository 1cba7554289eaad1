"""A run started from the dashboard: the runner (built by `session.build_runner`, the same
path as a headless run, so the store gets the same records), its bridge and its view.
Control goes through here as plain calls on the runner; no widget touches it."""

from __future__ import annotations

from oneie_tui.engine.runner import Runner
from oneie_tui.engine.session import RunOptions, build_runner
from oneie_tui.spec.loader import LoadedSpec
from oneie_tui.store.base import Store
from oneie_tui.ui.bridge import EventBridge
from oneie_tui.views.run_view import RunView


class LiveRun:
    def __init__(
        self,
        loaded: LoadedSpec,
        options: RunOptions,
        store: Store | None,
        *,
        runner: Runner | None = None,  # already built and restored (resume)
        resume: bool = False,
    ) -> None:
        self.loaded = loaded
        self.runner: Runner = runner or build_runner(loaded, options, store)  # SetupError: one line
        self._resume = resume
        self.view = RunView.for_spec(self.runner.spec, self.runner.run_id)
        self.bridge = EventBridge(self.view)
        self.bridge.attach(self.runner.bus)

    @property
    def live(self) -> bool:
        return self.runner.live

    async def run(self, agent_ids: list[str] | None = None) -> None:
        """The worker body: run (or continue) the run to its end."""
        resume, self._resume = self._resume, False  # only the first launch is the resume
        await self.runner.run(agent_ids, resume=resume)

    # --- control ----------------------------------------------------------------

    def toggle_pause(self, agent_id: str) -> bool:
        return self.runner.toggle_pause(agent_id)

    def cancel(self, agent_id: str) -> bool:
        return self.runner.cancel(agent_id)

    def restart(self, agent_id: str) -> bool:
        """Restart while live; after the run ended the caller continues the run instead."""
        return self.runner.restart(agent_id)

    def toggle_pause_all(self) -> str:
        """Pause every running agent, or resume all if none is running."""
        if any(s.status == "running" for s in self.runner.agents.values()):
            return f"paused {self.runner.pause_all()}"
        return f"resumed {self.runner.resume_all()}"

    def cancel_run(self, reason: str = "run cancelled by user") -> None:
        self.runner.cancel_run(reason)
