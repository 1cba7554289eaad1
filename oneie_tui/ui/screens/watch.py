"""Watch a run that another process or machine is writing: the replay screen, read-only,
kept at the run's newest event. It never controls the run (the replay screen has no
agent controls); new events are announced by the store's follower (LISTEN/NOTIFY on
PostgreSQL, polling on SQLite) and read by seq, so a lost connection only delays them."""

from __future__ import annotations

import math
import threading

from textual import work
from textual.message import Message

from oneie_tui.store.base import Store
from oneie_tui.ui.screens.replay import ReplayScreen

WAIT_SECONDS = 0.5  # the follower thread looks at its stop flag this often
RETRY_SECONDS = 0.1  # a notification that came while a seek was folding: look again


class WatchScreen(ReplayScreen):
    FOLLOW_LABEL = "● watching live · read-only"

    class Moved(Message):
        """The watched run may have new events."""

    def __init__(self, store: Store, run_id: str) -> None:
        super().__init__(store, run_id, speed=math.inf, autoplay=False, follow=True, at_end=True)
        self._follow_due = math.inf  # the follower says when to read, not a poll timer
        self._stop_watch = threading.Event()
        self.updates = 0  # how many times new events were read (tests)

    async def on_mount(self) -> None:
        await super().on_mount()
        self._listen()

    def on_unmount(self) -> None:
        super().on_unmount()
        self._stop_watch.set()

    @work(thread=True, exclusive=True, group="watch-follow", exit_on_error=False)
    def _listen(self) -> None:
        follower = self.store.follow(self.run_id)
        try:
            while not self._stop_watch.is_set():
                if follower.wait(WAIT_SECONDS):
                    self.post_message(self.Moved())
        finally:
            follower.close()

    def on_watch_screen_moved(self, event: Moved) -> None:
        event.stop()
        self._catch_up()

    def _catch_up(self) -> None:
        if self.busy:
            self.set_timer(RETRY_SECONDS, self._catch_up)
            return
        if self.replay.refresh_bounds():
            self.updates += 1
            self.go_to(self.replay.last_seq, self.replay.duration)
