"""The oneie dashboard app.

`OneieApp` opens on a spec (dashboard), on a spec picker, or on any screen a caller
supplies (`initial_screen_factory`: history, replay). Runs go through `session.build_runner`
(as headless runs do) inside one async worker; its end and its errors are handled in one
place (`Worker.StateChanged`). Themes come from `themes/` and the user's theme folder, the
keymap from the user's config file. Logs go to a file under `paths.log_dir()`.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from textual import on
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from oneie_tui import logsetup, paths
from oneie_tui.config import UserConfig, load_config, remember_last_spec
from oneie_tui.engine.session import RunOptions, SetupError
from oneie_tui.events import Event
from oneie_tui.spec.loader import LoadedSpec, SpecError, parse_spec_text
from oneie_tui.store.base import Store, StoreError
from oneie_tui.store.open import open_store
from oneie_tui.themes import DEFAULT_THEME, load_themes
from oneie_tui.ui.live import LiveRun
from oneie_tui.ui.messages import CancelAgent, PauseAgent, RestartAgent, RunStatusChanged
from oneie_tui.ui.screens.confirm import ConfirmScreen
from oneie_tui.ui.screens.dashboard import DashboardScreen
from oneie_tui.ui.screens.picker import PickerScreen

log = logging.getLogger("oneie.tui")
RUN_GROUP = "run"
TUI_LOG = "tui.log"


def setup_file_logging() -> Path | None:
    """App logs go to a file, never to the screen; keys are masked before they get there."""
    logger = logging.getLogger("oneie")
    try:
        target = (paths.log_dir() / TUI_LOG).absolute()
    except OSError:
        return None
    for old in [h for h in logger.handlers if isinstance(h, logging.FileHandler)]:
        if Path(old.baseFilename) == target:
            return target
        logger.removeHandler(old)  # an earlier app of this process logged elsewhere
        old.close()
    handler = logsetup.file_handler(TUI_LOG)
    if handler is None:
        return None
    logger.addHandler(handler)
    # INFO, or DEBUG when `oneie --debug` / ONEIE_LOG_LEVEL asked for it.
    logger.setLevel(min(logging.INFO, logging.getLogger().getEffectiveLevel()))
    logger.propagate = False
    return target


def known_binding_ids() -> set[str]:
    """Every binding id a keymap may name: those of every class in the `ui` package (app,
    screens, widgets), found by walking it, so a new screen's keys cannot be left out."""
    import importlib
    import inspect
    import pkgutil

    from oneie_tui import ui

    ids: set[str] = set()
    for info in pkgutil.walk_packages(ui.__path__, f"{ui.__name__}."):
        module = importlib.import_module(info.name)
        for _, owner in inspect.getmembers(module, inspect.isclass):
            if owner.__module__ == info.name:
                ids |= {b.id for b in getattr(owner, "BINDINGS", ()) if isinstance(b, Binding) and b.id}
    return ids


class OneieApp(App[int]):
    CSS_PATH = "app.tcss"
    TITLE = "oneie"
    BINDINGS = [
        Binding("q", "quit", "Quit", id="quit"),
        Binding("t", "switch_theme", "Theme", id="theme"),
    ]

    def __init__(
        self,
        spec_path: Path | None = None,
        *,
        store_path: str | Path | None = None,
        store: Store | None = None,
        run_on_start: bool = False,
        options: RunOptions | None = None,
        theme: str | None = None,
        initial_screen_factory: Callable[[], Screen[object]] | None = None,
        clock: Callable[[], float] | None = None,
        config: UserConfig | None = None,
        cursor_blink: bool = True,
    ) -> None:
        super().__init__()
        self.spec_path = spec_path
        self.store_path = store_path
        self.run_on_start = run_on_start
        self.options = options or RunOptions()
        self._theme_choice = theme
        self._initial_screen_factory = initial_screen_factory
        self._clock = clock or time.time
        self.cursor_blink = cursor_blink
        if config is None:
            config, self._config_problems = load_config()
        else:
            self._config_problems = []
        self.user_config = config
        self.live: LiveRun | None = None
        self.dashboard: DashboardScreen | None = None
        self.oneie_themes: list[str] = []
        self._store: Store | None = store  # one the command opened already, else opened on use
        self._run_worker: Worker[None] | None = None
        self._signals: list[int] = []
        self.log_file = setup_file_logging()

    # --- start --------------------------------------------------------------------

    def now(self) -> float:
        """The app's clock (epoch seconds); injected fixed in tests."""
        return self._clock()

    def on_mount(self) -> None:
        self._catch_signals()
        themes, problems = load_themes()
        for theme in themes:
            self.register_theme(theme)
        self.oneie_themes = [t.name for t in themes]
        for problem in problems:
            self.notify(f"theme not loaded: {problem}", severity="warning", timeout=8)
            log.warning("theme not loaded: %s", problem)
        for config_problem in self._config_problems:
            self.notify(f"config: {config_problem}", severity="warning", timeout=8)
            log.warning("config: %s", config_problem)
        self._apply_theme_choice()
        if self.user_config.keymap:
            unknown = sorted(set(self.user_config.keymap) - known_binding_ids())
            if unknown:  # a misspelt id would otherwise do nothing, silently
                text = f"config: keymap: unknown binding id {', '.join(map(repr, unknown))}"
                self.notify(text, severity="warning", timeout=8)
                log.warning(text)
            self.set_keymap(self.user_config.keymap)
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        if self._initial_screen_factory is not None:
            self.push_screen(self._initial_screen_factory())
        elif self.spec_path is not None:
            self.open_spec(self.spec_path, run=self.run_on_start)
        else:
            self.push_screen(PickerScreen())

    def _apply_theme_choice(self) -> None:
        wanted = self._theme_choice or self.user_config.theme or DEFAULT_THEME
        if wanted in self.available_themes:
            self.theme = wanted
            return
        self.notify(
            f"unknown theme {wanted!r}; known: {', '.join(self.oneie_themes)}",
            severity="warning",
            timeout=8,
        )
        if DEFAULT_THEME in self.available_themes:
            self.theme = DEFAULT_THEME

    def _theme_changed(self, _: object) -> None:
        if self.dashboard is not None and self.dashboard.is_mounted:
            self.dashboard.redraw()

    # --- specs --------------------------------------------------------------------

    def open_spec(self, path: Path, *, run: bool = False) -> None:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            self.notify(f"{path}: cannot read: {exc}", severity="error")
            return
        self.spec_path = path
        remember_last_spec(path)
        dashboard = DashboardScreen(text, path.name, cursor_blink=self.cursor_blink)
        self.dashboard = dashboard
        if isinstance(self.screen, PickerScreen):
            self.switch_screen(dashboard)
        else:
            self.push_screen(dashboard)
        if run:
            self.call_after_refresh(self.start_run_from_text, text)

    def save_spec(self, text: str) -> None:
        if self.spec_path is None:
            self.notify("this spec has no file to save to", severity="warning")
            return
        try:
            self.spec_path.write_text(text, encoding="utf-8")  # as typed: comments kept
        except OSError as exc:
            self.notify(f"cannot save {self.spec_path}: {exc}", severity="error")
            return
        try:
            parse_spec_text(text, str(self.spec_path))
            self.notify(f"saved {self.spec_path}")
        except SpecError as exc:
            self.notify(f"saved {self.spec_path} (it has an error: {exc})", severity="warning")

    # --- runs ---------------------------------------------------------------------

    @property
    def store(self) -> Store | None:
        if self._store is None:
            try:
                self._store = open_store(self.store_path)
            except StoreError as exc:
                self.notify(str(exc), severity="error")
                return None
        return self._store

    @property
    def running(self) -> bool:
        return self._run_worker is not None and self._run_worker.state in (
            WorkerState.PENDING,
            WorkerState.RUNNING,
        )

    def start_run_from_text(self, text: str) -> None:
        """Run the spec as it is in the editor (ctrl+r)."""
        self.call_next(self._start_run, text)

    async def _start_run(self, text: str) -> bool:
        if self.running:
            self.notify("a run is live: cancel it first (C)", severity="warning")
            return False
        label = str(self.spec_path) if self.spec_path else "<editor>"
        try:
            spec = parse_spec_text(text, label)
        except SpecError as exc:
            self.notify(f"cannot run: {exc}", severity="error", timeout=8)
            return False
        store = self.store
        if store is None:
            return False
        try:
            live = LiveRun(LoadedSpec(spec, self.spec_path, text), self.options, store)
        except SetupError as exc:
            self.notify(f"cannot run: {exc}", severity="error", timeout=8)
            return False
        self.live = live
        dashboard = self.dashboard
        if dashboard is not None:
            await dashboard.show_bridge(live.bridge)
            if dashboard.has_class("-narrow"):
                dashboard.show_editor(False)
            dashboard.grid.focus_first()
        log.info("run %s started: %s", live.runner.run_id, label)
        self._launch(live, None)
        return True

    def resume_run(self, run_id: str) -> LiveRun | None:
        """Continue an interrupted run here (history's `R`). The app owns it like any live
        run, so quitting asks first and SIGTERM interrupts it again, resumably."""
        if self.running:
            self.notify("a run is live: cancel it first (C)", severity="warning")
            return None
        store = self.store
        if store is None:
            return None
        from oneie_tui.engine.resume import ResumeError, prepare_resume

        try:
            resumed = prepare_resume(store, run_id)
        except (ResumeError, SpecError, SetupError, StoreError) as exc:
            self.notify(f"cannot resume: {exc}", severity="error", timeout=8)
            return None
        runner = resumed.runner
        loaded = LoadedSpec(runner.spec, None, "")
        live = LiveRun(loaded, self.options, store, runner=runner, resume=True)
        self.live = live
        log.info("run %s resumed: relaunching %s", run_id, resumed.relaunch)
        self.notify(f"resuming {run_id}: relaunching {', '.join(resumed.relaunch) or 'no agent'}", timeout=4)
        self._launch(live, resumed.relaunch)
        return live

    def _launch(self, live: LiveRun, agent_ids: list[str] | None) -> None:
        self._run_worker = self.run_worker(
            live.run(agent_ids), name=f"run {live.runner.run_id}", group=RUN_GROUP, exit_on_error=False
        )

    @on(Worker.StateChanged)
    def _worker_state(self, event: Worker.StateChanged) -> None:
        """Every worker's end and errors, in one place."""
        worker = event.worker
        if event.state == WorkerState.ERROR:
            log.error("worker %s failed: %r", worker.name, worker.error, exc_info=worker.error)
            self.notify(f"{worker.name} failed: {worker.error}", severity="error", timeout=10)
        elif event.state == WorkerState.SUCCESS and worker.group == RUN_GROUP:
            log.info("%s finished", worker.name)

    def on_run_status_changed(self, event: RunStatusChanged) -> None:
        if event.status in ("completed", "failed", "cancelled") and self.live is not None:
            summary = self.live.runner.summary()
            text = f"run {event.status} · speedup {summary['speedup']:.2f}×"
            if event.reason:
                text += f" · {event.reason}"
            self.notify(text, severity="information" if event.status == "completed" else "warning")

    def apply_events(self, events: Iterable[Event]) -> None:
        """Show recorded events on the dashboard as if a runner had published them."""
        if self.dashboard is not None:
            self.dashboard.bridge.feed(events)

    # --- control (intents from the screens) ----------------------------------------

    def _live_run(self) -> LiveRun | None:
        if self.live is None:
            self.notify("no run yet: ctrl+r runs the spec", severity="warning", timeout=3)
        return self.live

    def _status(self, agent_id: str) -> str:
        state = self.live.runner.agents.get(agent_id) if self.live else None
        return state.status if state else "unknown"

    def control(self, intent: PauseAgent | CancelAgent | RestartAgent) -> None:
        """An intent posted by a panel or the zoom, for the live run's agent."""
        if isinstance(intent, PauseAgent):
            self.control_pause(intent.agent_id)
        elif isinstance(intent, CancelAgent):
            self.control_cancel(intent.agent_id)
        else:
            self.control_restart(intent.agent_id)

    def control_pause(self, agent_id: str) -> None:
        live = self._live_run()
        if live is not None and not live.toggle_pause(agent_id):
            self.notify(f"{agent_id} is {self._status(agent_id)}: nothing to pause", timeout=2)

    def control_cancel(self, agent_id: str) -> None:
        live = self._live_run()
        if live is not None and not live.cancel(agent_id):
            self.notify(f"{agent_id} is {self._status(agent_id)}: nothing to cancel", timeout=2)

    def control_restart(self, agent_id: str) -> None:
        live = self._live_run()
        if live is None:
            return
        if live.live:
            if not live.restart(agent_id):
                self.notify(f"cannot restart {agent_id} now", timeout=2)
        elif self.running:
            self.notify("the run is finishing; try again in a moment", timeout=2)
        else:
            self._launch(live, [agent_id])  # continue the same run with this agent

    def control_pause_all(self) -> None:
        live = self._live_run()
        if live is not None and live.live:
            self.notify(f"{live.toggle_pause_all()} agents", timeout=2)

    def control_cancel_run(self) -> None:
        live = self._live_run()
        if live is not None and live.live:
            live.cancel_run()

    # --- app actions --------------------------------------------------------------

    def action_switch_theme(self) -> None:
        names = self.oneie_themes or [DEFAULT_THEME]
        index = names.index(self.theme) + 1 if self.theme in names else 0
        self.theme = names[index % len(names)]
        self.notify(f"theme: {self.theme}", timeout=2)

    def open_history(self) -> None:
        from oneie_tui.ui.screens.history import HistoryScreen

        store = self.store
        if store is not None:
            self.push_screen(HistoryScreen(store))

    async def action_quit(self) -> None:
        if self.live is not None and self.live.live:
            self.push_screen(
                ConfirmScreen("A run is live. Cancel it and quit?", yes="Quit", no="Stay"),
                self._quit_answered,
            )
            return
        self.exit(0)

    async def _quit_answered(self, yes: bool | None) -> None:
        if not yes:
            return
        if self.live is not None:
            self.live.cancel_run("quit from the dashboard")
        worker = self._run_worker
        if worker is not None:
            try:
                await worker.wait()
            except Exception:  # its error was reported in _worker_state
                pass
        self.exit(0)

    # --- SIGTERM / SIGHUP -----------------------------------------------------------

    def _catch_signals(self) -> None:
        """SIGTERM/SIGHUP would kill the app with the terminal still in the alternate screen
        and mouse modes on; instead interrupt the run (resumable) and exit cleanly."""
        if self.is_headless:  # under run_test: leave the test process's signals alone
            return
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGHUP):
            try:
                loop.add_signal_handler(signum, self._on_signal, signum)
                self._signals.append(signum)
            except (NotImplementedError, RuntimeError, ValueError):  # not Unix, not main thread
                pass

    def _on_signal(self, signum: int) -> None:
        name = signal.Signals(signum).name
        log.warning("%s received: interrupting the run and leaving", name)
        if self.live is not None and self.live.live:
            self.live.runner.cancel_run(f"interrupted ({name})", interrupted=True)
        self.call_next(self._leave_after_signal)

    async def _leave_after_signal(self) -> None:
        worker = self._run_worker
        if worker is not None:
            try:
                await worker.wait()  # the run's cleanup is shielded and time-bounded
            except Exception:  # its error was reported in _worker_state
                pass
        self.exit(130)

    async def on_unmount(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in self._signals:
            loop.remove_signal_handler(signum)
        if self._store is not None:
            self._store.close()

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield from self._dashboard_commands(screen)

    def _dashboard_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        if not isinstance(screen, DashboardScreen):
            return
        focused = screen.grid.focused_agent()
        if focused is not None:
            yield SystemCommand(f"Pause/resume {focused}", "pause or resume the focused agent (p)",
                                lambda: self.control_pause(focused))
            yield SystemCommand(f"Cancel {focused}", "cancel the focused agent (c)",
                                lambda: self.control_cancel(focused))
            yield SystemCommand(f"Restart {focused}", "run the focused agent again (r)",
                                lambda: self.control_restart(focused))
            yield SystemCommand(f"Zoom {focused}", "full-screen output, events and usage (enter)",
                                lambda: screen.grid.panels[focused].action_zoom())
        yield SystemCommand("Run spec", "run the spec as it is in the editor (ctrl+r)", screen.action_run_spec)
        yield SystemCommand("Save spec", "save the editor's text as typed (ctrl+s)", screen.action_save_spec)
        yield SystemCommand("Pause/resume all agents", "P", self.control_pause_all)
        yield SystemCommand("Cancel run", "cancel every agent (C)", self.control_cancel_run)
        yield SystemCommand("Show/hide editor", "e", screen.action_toggle_editor)
        yield SystemCommand("Filter timeline", "filter events by agent or action (/)", screen.action_filter)
        yield SystemCommand("Switch theme", "next oneie theme (t)", self.action_switch_theme)
        yield SystemCommand("Run history", "past runs (h)", self.open_history)
        yield SystemCommand("Gantt", "lanes, critical path, sequential vs parallel (g)", screen.action_gantt)
