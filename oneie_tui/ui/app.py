"""The oneie dashboard app.

`OneieApp` opens on a spec (dashboard), on a spec picker, or on any screen a caller
supplies (`initial_screen_factory`: history, replay). Runs go through `session.build_runner`
(as headless runs do) inside one async worker; its end and its errors are handled in one
place (`Worker.StateChanged`). Themes come from `themes/` and the user's theme folder, the
keymap from the user's config file. Logs go to a file under `paths.log_dir()`.
"""

from __future__ import annotations

import asyncio
import difflib
import logging
import os
import signal
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from textual import on
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from oneie_tui import logsetup, paths
from oneie_tui.config import UserConfig, load_config, remember_last_spec
from oneie_tui.engine import exit_deadline
from oneie_tui.engine.exit_deadline import STOP_SIGNALS
from oneie_tui.engine.session import RunOptions, SetupError
from oneie_tui.events import Event
from oneie_tui.notify.channels import default_channels
from oneie_tui.notify.notifier import POLL_EVERY_S, Notifier
from oneie_tui.notify.settings import config_table, resolve
from oneie_tui.spec.loader import MAX_SPEC_BYTES, LoadedSpec, SpecError, parse_spec_text
from oneie_tui.store.base import Store, StoreError
from oneie_tui.store.open import open_store
from oneie_tui.themes import DEFAULT_THEME, load_themes
from oneie_tui.trust.bounded_read import TooLarge, read_bounded
from oneie_tui.trust.display import display
from oneie_tui.ui import format as fmt
from oneie_tui.ui.live import LiveRun
from oneie_tui.ui.messages import (
    CancelAgent,
    ComposeMessage,
    MessageAgent,
    PauseAgent,
    RestartAgent,
    ResumeRequested,
    ReviewRequested,
    RunSpec,
    RunStatusChanged,
    SaveSpec,
    SpecPicked,
    ZoomAgent,
)
from oneie_tui.ui.screens.confirm import ConfirmScreen
from oneie_tui.ui.screens.dashboard import DashboardScreen
from oneie_tui.ui.screens.picker import PickerScreen
from oneie_tui.ui.screens.save_as import SaveAsScreen
from oneie_tui.ui.screens.unsaved import DISCARD, SAVE, UnsavedScreen
from oneie_tui.ui.widgets.spec_editor import SpecEditor
from oneie_tui.views.outcome import completed_work

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


def is_bundled_example(path: Path) -> bool:
    """A spec shipped with oneie (not one in the current folder): opened as a template, so
    saving never writes into the installed copy."""
    try:
        folder = path.resolve().parent
        return folder == paths.bundled_dir("specs").resolve() and folder != Path.cwd().resolve()
    except OSError:
        return False


class OneieApp(App[int]):
    CSS_PATH = "app.tcss"
    TITLE = "oneie"
    BINDINGS = [
        Binding("q", "quit", "Quit", id="quit"),
        Binding("question_mark", "toggle_keys", "Keys", id="keys"),
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
        terminal_write: Callable[[str], None] | None = None,
        notify_env: Mapping[str, str] | None = None,
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
        # Notices of run-level changes (docs/notifications.md): the bell and OSC go out
        # through `terminal_write` (the driver's, unless a test gives its own), the
        # terminal is told apart by `notify_env` (the process environment by default).
        self._notify_config, notify_problem = config_table(config.notify, config.path)
        if notify_problem:
            self._config_problems.append(notify_problem)
        self._terminal_write = terminal_write or self._write_terminal
        self._notify_env = notify_env if notify_env is not None else os.environ
        self.notifier: Notifier | None = None
        self.live: LiveRun | None = None
        self.dashboard: DashboardScreen | None = None
        self.oneie_themes: list[str] = []
        self._store: Store | None = store  # one the command opened already, else opened on use
        self._run_worker: Worker[None] | None = None
        self._control_worker: Worker[None] | None = None  # the live run's control socket
        self._signals: list[int] = []
        self._hup_before: Any = None  # the SIGHUP handler before ours, put back on unmount
        self._hung_up = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self.log_file = setup_file_logging()

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Every toast (the app's and its screens'): its text carries reasons, names and
        paths from outside, so it is never markup and never holds a control character."""
        super().notify(display(message), title=display(title), severity=severity, timeout=timeout, markup=False)

    # --- start --------------------------------------------------------------------

    def now(self) -> float:
        """The app's clock (epoch seconds); injected fixed in tests."""
        return self._clock()

    def on_mount(self) -> None:
        self._catch_signals()
        self.set_interval(POLL_EVERY_S, self._poll_notices)
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
            known = known_binding_ids()
            unknown = sorted(set(self.user_config.keymap) - known)
            if unknown:  # a misspelt id would otherwise do nothing, silently
                guesses = [
                    f"{close[0]!r} for {name!r}"
                    for name in unknown
                    if (close := difflib.get_close_matches(name, known, n=1))
                ]
                text = (
                    f"config: keymap: unknown binding id {', '.join(map(repr, unknown))}"
                    + (f" (did you mean {', '.join(guesses)}?)" if guesses else "")
                    + "; every id is listed in the README, under Keys"
                )
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
            text = read_bounded(path, MAX_SPEC_BYTES).decode("utf-8")  # devices, pipes: bounded
        except (OSError, UnicodeDecodeError, TooLarge) as exc:
            self.notify(f"{path}: cannot read: {exc}", severity="error")
            return
        self.spec_path = path
        remember_last_spec(path)
        dashboard = DashboardScreen(
            text,
            path.name,
            clock=self.now,
            control=self.control,
            template=is_bundled_example(path),
            cursor_blink=self.cursor_blink,
        )
        self.dashboard = dashboard
        if isinstance(self.screen, PickerScreen):
            self.switch_screen(dashboard)
        else:
            self.push_screen(dashboard)
        if run:
            self.call_after_refresh(self.start_run_from_text, text)

    @on(SpecPicked)
    def _spec_picked(self, event: SpecPicked) -> None:
        self.open_spec(event.path)

    @on(SaveSpec)
    def _save_asked(self, event: SaveSpec) -> None:
        self.save_spec(event.text)

    @on(RunSpec)
    def _run_asked(self, event: RunSpec) -> None:
        self.start_run_from_text(event.text, backend=event.backend)

    def _editor(self) -> SpecEditor | None:
        dashboard = self.dashboard
        if dashboard is None:
            return None
        try:
            return dashboard.editor
        except NoMatches:  # not composed yet
            return None

    def save_spec(self, text: str, then: Callable[[], object] | None = None) -> None:
        """Write the editor's text as typed; a bundled example is saved as a copy in the
        current folder, under a name the user confirms first. `then` runs once saved."""
        if self.spec_path is None:
            self.notify("this spec has no file to save to", severity="warning")
            return
        editor = self._editor()
        if editor is not None and editor.template:
            why = f"{self.spec_path.name} is a bundled example; it stays as installed. Save a copy as:"

            def chosen(path: Path | None) -> None:
                if path is not None:
                    self._save_copy(path, text, then)

            self.push_screen(SaveAsScreen(Path.cwd() / self.spec_path.name, why), chosen)
            return
        self._write_spec(self.spec_path, text, then)

    def _save_copy(self, path: Path, text: str, then: Callable[[], object] | None) -> None:
        if not path.exists():
            self._write_spec(path, text, then, copy=True)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._write_spec(path, text, then, copy=True)

        self.push_screen(ConfirmScreen(f"{path} exists. Replace it?", yes="Replace", no="Keep it"), answered)

    def _write_spec(self, path: Path, text: str, then: Callable[[], object] | None, *, copy: bool = False) -> None:
        try:
            path.write_text(text, encoding="utf-8")  # as typed: comments kept
        except OSError as exc:
            self.notify(f"cannot save {path}: {exc}", severity="error")
            return
        self.spec_path = path
        editor = self._editor()
        if editor is not None:
            editor.mark_saved(text, label=path.name if copy else None)
        if copy:
            remember_last_spec(path)
        try:
            parse_spec_text(text, str(path))
            self.notify(f"saved {path}")
        except SpecError as exc:
            self.notify(f"saved {path} (it has an error: {exc})", severity="warning")
        if then is not None:
            then()

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

    def start_run_from_text(self, text: str, backend: str | None = None) -> None:
        """Run the spec as it is in the editor (ctrl+r); `backend` puts every agent on it."""
        self.call_next(self._start_run, text, backend)

    def _blocked(self, text: str, *, sim_helps: bool) -> None:
        """A run cannot start: on the dashboard, a line that stays until dismissed."""
        log.warning("%s", text)
        dashboard = self.dashboard
        if dashboard is not None and dashboard.is_attached:
            dashboard.show_blocking_error(text, sim_helps=sim_helps)
        else:
            self.notify(text, severity="error", timeout=8)

    async def _start_run(self, text: str, backend: str | None = None) -> bool:
        if self.running:
            self.notify("a run is live: cancel it first (C)", severity="warning")
            return False
        label = str(self.spec_path) if self.spec_path else "<editor>"
        try:
            spec = parse_spec_text(text, label)
        except SpecError as exc:
            self._blocked(f"cannot run: {exc}", sim_helps=False)
            return False
        store = self.store
        if store is None:
            return False
        options = replace(self.options, backend=backend) if backend else self.options
        try:
            live = LiveRun(LoadedSpec(spec, self.spec_path, text), options, store)
        except SetupError as exc:
            on_sim = (options.backend or spec.run.backend) == "sim" and all(
                spec.backend_of(a) == "sim" for a in spec.agents
            )
            self._blocked(f"cannot run: {exc}", sim_helps=not on_sim)
            return False
        if self.dashboard is not None and self.dashboard.is_attached:
            self.dashboard.dismiss_error()  # the run starts: an earlier refusal is moot
        self.live = live
        dashboard = self.dashboard
        if dashboard is not None:
            await dashboard.show_bridge(live.bridge, store=store)
            if dashboard.has_class("-narrow"):
                dashboard.show_editor(False)
            dashboard.focus_agents()
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
        # What happened before the interruption, so the dashboard shows the whole run.
        live.view.apply_all(list(store.events(run_id)))
        live.bridge.applied_seq = live.view.last_seq
        self.live = live
        log.info("run %s resumed: relaunching %s", run_id, resumed.relaunch)
        self.notify(f"resuming {run_id}: relaunching {', '.join(resumed.relaunch) or 'no agent'}", timeout=4)
        self._launch(live, resumed.relaunch)
        return live

    @on(ResumeRequested)
    async def _resume_asked(self, event: ResumeRequested) -> None:
        """History's `R`: the app runs it (so leaving that screen does not end it), on the
        live dashboard like any run: p, c, r, P and C act on it there."""
        store = self.store
        live = self.resume_run(event.run_id) if store is not None else None
        if store is None or live is None:
            return
        row = store.get_run(event.run_id)
        self.spec_path = None  # the stored text has no file of its own: ctrl+s says so
        dashboard = DashboardScreen(
            row.spec_text,
            f"{row.spec_name} (resumed {row.id})",
            clock=self.now,
            control=self.control,
            run_store=store,
            cursor_blink=self.cursor_blink,
        )
        self.dashboard = dashboard
        await self.push_screen(dashboard)
        await dashboard.show_bridge(live.bridge, store=store)
        dashboard.show_editor(False)
        dashboard.grid.focus_first()

    def _launch(self, live: LiveRun, agent_ids: list[str] | None) -> None:
        self._follow_for_notices(live)
        # A message to a finished agent after the run ended continues the run here.
        live.runner.continue_run = lambda ids: self._continue_run(live, ids)
        self._hold_control(live)
        self._run_worker = self.run_worker(
            live.run(agent_ids), name=f"run {live.runner.run_id}", group=RUN_GROUP, exit_on_error=False
        )

    # --- notices ------------------------------------------------------------------

    def _follow_for_notices(self, live: LiveRun) -> None:
        """One notifier per run, kept when the same run continues (a restart after its
        end), so what it told already is not told again."""
        notifier = self.notifier
        if notifier is not None and notifier.runner_id == live.runner.run_id:
            notifier.attach(live.runner.bus)
            return
        if notifier is not None:
            notifier.detach()
        settings = resolve(self._notify_config, live.runner.spec.notify)
        channels = default_channels(settings, terminal_write=self._terminal_write, env=self._notify_env)
        self.notifier = Notifier(settings, channels, runner_id=live.runner.run_id)
        self.notifier.attach(live.runner.bus)

    def _poll_notices(self) -> None:
        if self.notifier is not None:
            self.notifier.poll()

    def _write_terminal(self, data: str) -> None:
        """The bell and OSC notices, written by the app itself to its own terminal (as
        `App.bell` does): never from a widget, never agent text (notify/terminal.py)."""
        if not self.is_headless and self._driver is not None:
            self._driver.write(data)

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
        if event.status in ("completed", "failed", "cancelled") and self.dashboard is not None:
            # The figures of the run's own summary (its last event), as the header shows them.
            view = self.dashboard.view
            outcome = view.outcome()
            text = f"run {outcome}"
            speedup = view.final.get("speedup")
            if completed_work(outcome) and isinstance(speedup, int | float):
                text += f" · speedup {fmt.speedup(float(speedup))}"
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

    def control_restart(self, agent_id: str, *, confirmed: bool = False) -> None:
        live = self._live_run()
        if live is None:
            return
        status = self._status(agent_id)
        if live.live and status in ("running", "paused") and not confirmed:
            def answered(yes: bool | None) -> None:
                if yes:
                    self.control_restart(agent_id, confirmed=True)

            question = f"Restart {agent_id}? It is {status}: its work so far is thrown away."
            self.push_screen(ConfirmScreen(question, yes="Restart", no="Keep it"), answered)
            return
        if live.live:
            if not live.restart(agent_id):
                self.notify(f"cannot restart {agent_id} now", timeout=2)
        elif self.running:
            self.notify("the run is finishing; try again in a moment", timeout=2)
        else:
            self._launch(live, [agent_id])  # continue the same run with this agent

    def _hold_control(self, live: LiveRun) -> None:
        """Serve the run's control socket for as long as the dashboard holds the run (not
        only while it runs), so `oneie send` still continues its finished agents."""
        runner = live.runner
        if runner.control is None or runner.control_held:
            return
        if self._control_worker is not None:  # the run this one replaces lets go of its own
            self._control_worker.cancel()
        runner.control_held = True
        self._control_worker = self.run_worker(
            runner.control(runner), name=f"control {runner.run_id}", group="control", exit_on_error=False
        )

    def _continue_run(self, live: LiveRun, agent_ids: list[str]) -> str | None:
        """The runner asks to go on with these agents after the run ended (a follow-up)."""
        if self.running:
            return "the run is finishing; try again in a moment"
        if live is not self.live:
            return "that run is no longer on the dashboard"
        self._launch(live, agent_ids)
        return None

    @on(MessageAgent)
    def _message_agent(self, event: MessageAgent) -> None:
        """Something to say to an agent (the message input, a review comment)."""
        event.stop()
        self.control_message(event.agent_id, event.text)

    def control_message(self, agent_id: str, text: str) -> None:
        live = self._live_run()
        if live is None:
            return
        refused = live.runner.send_message(agent_id, text)
        # Reasons name spec ids and carry TOML examples in brackets: text, never markup.
        if refused is not None:
            self.notify(refused, severity="warning", timeout=5, markup=False)
        else:
            self.notify(f"message sent to {agent_id}", timeout=2, markup=False)

    def control_pause_all(self) -> None:
        live = self._live_run()
        if live is not None and live.live:
            self.notify(f"{live.toggle_pause_all()} agents", timeout=2)

    def control_cancel_run(self) -> None:
        live = self._live_run()
        if live is not None and live.live:
            live.cancel_run()

    # --- app actions --------------------------------------------------------------
    # The dashboard's app-wide keys (P, C, h) are bound there as `app.…` actions, under
    # their own binding ids, so user keymaps keep naming them as before.

    def action_pause_all(self) -> None:
        self.control_pause_all()

    def action_cancel_run(self) -> None:
        """`C`: the whole run, after a confirm (paid backends spend money on the work lost)."""
        live = self.live
        if live is None or not live.live:
            self.control_cancel_run()
            return
        working = sum(1 for s in live.runner.agents.values() if not s.terminal and s.attempt > 0)

        def answered(yes: bool | None) -> None:
            if yes:
                self.control_cancel_run()

        question = f"Cancel the whole run? {working} agent{'s' if working != 1 else ''} still working stop now."
        self.push_screen(ConfirmScreen(question, yes="Cancel run", no="Keep running"), answered)

    def action_history(self) -> None:
        self.open_history()

    def action_toggle_keys(self) -> None:
        """`?`: every key of the screen and what it does (Textual's help panel), or hide it."""
        if self.screen.query("HelpPanel"):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()

    def action_switch_theme(self) -> None:
        names = self.oneie_themes or [DEFAULT_THEME]
        index = names.index(self.theme) + 1 if self.theme in names else 0
        before, wanted = self.theme, names[index % len(names)]
        try:
            self.theme = wanted
        except Exception as exc:  # a theme is data: a bad one is a notice, never the end of a run
            log.warning("theme %s not applied: %r", wanted, exc)
            self.theme = before
            self.notify(f"theme {wanted} not applied: {exc}", severity="warning", timeout=8)
            return
        self.notify(f"theme: {self.theme}", timeout=2)

    def open_history(self) -> None:
        from oneie_tui.ui.screens.history import HistoryScreen

        store = self.store
        if store is not None:
            self.push_screen(HistoryScreen(store))

    @on(ReviewRequested)
    def _review_asked(self, event: ReviewRequested) -> None:
        self.open_review(event.run_id)

    def open_review(self, run_id: str | None = None) -> None:
        """The review screen of `run_id` (default: the run on the dashboard). While that
        run is live, review marks go through its runner, so its events stay in one order."""
        from oneie_tui.ui.screens.review import ReviewScreen

        store = self.store
        live = self.live
        run_id = run_id or (live.runner.run_id if live is not None else None)
        if store is None or run_id is None:
            self.notify("no run to review yet: run a spec first", severity="warning")
            return
        publish = None
        # A run the dashboard holds takes messages even after it ended: a comment on a
        # finished agent's diff continues that agent in a follow-up attempt.
        held = live is not None and live.runner.run_id == run_id
        if live is not None and live.live and held:
            runner = live.runner

            def publish(kind: str, actor: str, metadata: dict[str, Any]) -> None:
                runner.publish(kind, actor, metadata=metadata)

        self.push_screen(ReviewScreen(store, run_id, publish=publish, takes_messages=held))

    async def action_quit(self) -> None:
        """Quit; unsaved edits ask first (save, discard or stay), then a live run does."""
        editor = self._editor()
        if editor is not None and editor.modified:
            self.push_screen(UnsavedScreen(editor.label), self._unsaved_answered)
            return
        await self._quit_after_run()

    async def _unsaved_answered(self, answer: str | None) -> None:
        editor = self._editor()
        if answer == SAVE and editor is not None:
            self.save_spec(editor.text, then=lambda: self.call_next(self._quit_after_run))
        elif answer == DISCARD:
            await self._quit_after_run()

    async def _quit_after_run(self) -> None:
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

    # --- signals and hang-ups -----------------------------------------------------

    def _catch_signals(self) -> None:
        """TERM, HUP (the terminal went away), QUIT, USR1 and USR2 would kill the app with the
        terminal still in the alternate screen and the agents running in their own sessions;
        instead they interrupt the run (resumable) and exit 130. SIGINT is Ctrl-C as the
        README has it: the run is cancelled, exit 130."""
        if self.is_headless:  # under run_test: leave the test process's signals alone
            return
        loop = asyncio.get_running_loop()
        for signum in (*STOP_SIGNALS, signal.SIGINT):
            try:
                if signum == signal.SIGHUP:
                    self._hup_before = signal.signal(signum, self._on_hang_up)
                else:
                    loop.add_signal_handler(signum, self._on_signal, signum)
                    self._signals.append(signum)
            except (NotImplementedError, RuntimeError, ValueError):  # not Unix, not main thread
                pass
        self._loop = loop

    def _on_hang_up(self, signum: int, _frame: object) -> None:
        """SIGHUP as a plain Python handler: it runs in the main thread before any loop
        callback, so a dead terminal is swapped for /dev/null before Textual's output
        thread dies on EIO, which would leave the app's exit blocked for good."""
        if exit_deadline.terminal_hung_up():  # not a `kill -HUP` with the terminal still there
            self._hung_up = True
            exit_deadline.detach_terminal()
        exit_deadline.arm(130, terminal=not self._hung_up)
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._on_signal, signum)

    def _on_signal(self, signum: int) -> None:
        name = signal.Signals(signum).name
        log.warning("%s received: interrupting the run and leaving", name)
        # Gone within 5 s even if the loop or the (hung-up) terminal stalls the clean path.
        exit_deadline.arm(130, terminal=True)
        if self.live is not None and self.live.live:
            if signum == signal.SIGINT:
                self.live.runner.cancel_run("cancelled (Ctrl-C)")
            else:
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
        if self._hup_before is not None:
            signal.signal(signal.SIGHUP, self._hup_before)
        if self._store is not None:
            self._store.close()
        if self.notifier is not None:
            self.notifier.close(timeout=1.0)  # quitting waits a moment at most for a webhook

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        # One theme system: oneie's themes (bundled and the user's), not Textual's picker of
        # its own built-in ones beside them.
        for command in super().get_system_commands(screen):
            if command.callback != self.action_change_theme:
                yield command
        for name in self.oneie_themes:
            yield SystemCommand(f"Theme: {name}", "switch to this oneie theme (t cycles them)",
                                lambda name=name: self._set_theme(name))  # type: ignore[misc]
        yield from self._dashboard_commands(screen)

    def _set_theme(self, name: str) -> None:
        self.theme = name
        self.notify(f"theme: {name}", timeout=2)

    def _dashboard_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        if not isinstance(screen, DashboardScreen):
            return
        focused = screen.selected_agent()
        if focused is not None:
            yield SystemCommand(f"Pause/resume {focused}", "pause or resume the focused agent (p)",
                                lambda: self.control_pause(focused))
            yield SystemCommand(f"Cancel {focused}", "cancel the focused agent (c)",
                                lambda: self.control_cancel(focused))
            yield SystemCommand(f"Restart {focused}", "run the focused agent again (r)",
                                lambda: self.control_restart(focused))
            yield SystemCommand(f"Message {focused}", "say something to the focused agent (m)",
                                lambda: screen.post_message(ComposeMessage(focused)))
            yield SystemCommand(f"Zoom {focused}", "full-screen output, events and usage (enter)",
                                lambda: screen.post_message(ZoomAgent(focused)))
        yield SystemCommand("Run spec", "run the spec as it is in the editor (ctrl+r)", screen.action_run_spec)
        yield SystemCommand("Save spec", "save the editor's text as typed (ctrl+s)", screen.action_save_spec)
        yield SystemCommand("Pause/resume all agents", "P", self.control_pause_all)
        yield SystemCommand("Cancel run", "cancel every agent (C)", self.control_cancel_run)
        yield SystemCommand("Next agent needing you", "denied tools, a question, blocked or failed (a)",
                            screen.action_next_attention)
        yield SystemCommand("Show/hide editor", "e", screen.action_toggle_editor)
        yield SystemCommand("Grid or list of agents", "panels or one line per agent (v)", screen.action_toggle_crowd)
        yield SystemCommand("Filter timeline", "filter events by agent or action (/)", screen.action_filter)
        yield SystemCommand("Switch theme", "next oneie theme (t)", self.action_switch_theme)
        yield SystemCommand("Run history", "past runs (h)", self.open_history)
        yield SystemCommand("Gantt", "lanes, critical path, sequential vs parallel (g)", screen.action_gantt)
        yield SystemCommand("Plan", "the spec's plan before it runs: speedup, cycles, lints (L)", screen.action_plan)
        yield SystemCommand("Review", "the agents' diffs, conflicts, accept/reject and land (d)", screen.action_review)
