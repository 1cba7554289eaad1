"""The detector on a bus, and its notices out to the channels without ever holding the
run up: terminal writes happen at once (a few bytes), `notify-send` and the webhook on one
daemon thread of the notifier's own, through a short queue (full: the notice is dropped
and logged). A channel's failure is logged once (then at debug level) and never raised.

`poll()` must be called now and then (the dashboard's timer, the headless loop): held
notices go out when their quiet period ends, a stall once it has settled."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence

from oneie_tui.events import Event, EventBus, EventType, Subscription
from oneie_tui.notify.channels import Channel
from oneie_tui.notify.detector import DEFAULT_GATHER_S, DEFAULT_SETTLE_S, Notice, NoticeDetector
from oneie_tui.notify.settings import NotifySettings

log = logging.getLogger("oneie.notify")
POLL_EVERY_S = 0.5
QUEUE_SIZE = 32
# Only these events can change a notice; the rest (output, progress: most of a run) skip the fold.
WATCHED = frozenset({
    EventType.RUN_STARTED, EventType.RUN_FINISHED, EventType.RUN_FAILED, EventType.AGENT_ATTENTION,
    EventType.AGENT_MESSAGE, EventType.AGENT_QUEUED, EventType.AGENT_WAITING, EventType.AGENT_STARTED,
    EventType.AGENT_RESUMED, EventType.AGENT_PAUSED, EventType.AGENT_COMPLETED, EventType.AGENT_FAILED,
    EventType.AGENT_CANCELLED, EventType.AGENT_BLOCKED,
})


class Notifier:
    def __init__(
        self,
        settings: NotifySettings,
        channels: Sequence[Channel],
        *,
        clock: Callable[[], float] = time.monotonic,
        settle_seconds: float = DEFAULT_SETTLE_S,
        gather_seconds: float = DEFAULT_GATHER_S,
        runner_id: str = "",
    ) -> None:
        self.settings = settings
        self.runner_id = runner_id  # the run it was made for (the dashboard keeps one per run)
        self.channels = list(channels) if settings.on else []
        self.detector = NoticeDetector(settings.quiet_seconds, settings.kinds, settle_seconds, gather_seconds)
        self.sent: list[Notice] = []  # every notice handed to the channels, in order
        self._clock = clock
        self._failures: dict[str, int] = {}
        self._queue: queue.Queue[Notice | None] = queue.Queue(QUEUE_SIZE)
        self._thread: threading.Thread | None = None
        self._sub: Subscription | None = None
        self._bus: EventBus | None = None

    @property
    def active(self) -> bool:
        return bool(self.channels)

    def attach(self, bus: EventBus) -> None:
        """Follow `bus` (one run); a notifier follows one bus at a time."""
        self.detach()
        if self.active:
            self._bus, self._sub = bus, bus.subscribe(self.feed)

    def detach(self) -> None:
        if self._bus is not None and self._sub is not None:
            self._bus.unsubscribe(self._sub)
        self._bus = self._sub = None

    def feed(self, e: Event) -> None:
        if e.type in WATCHED:
            self._out(self.detector.feed(e, self._clock()))

    def poll(self) -> None:
        if self.active:
            self._out(self.detector.poll(self._clock()))

    def close(self, timeout: float = 6.0) -> None:
        """Wait up to `timeout` seconds for notices still on their way (a headless run's
        last one), then leave the thread to die with the process."""
        self.detach()
        thread = self._thread
        if thread is not None and thread.is_alive():
            try:
                self._queue.put(None, timeout=timeout)
            except queue.Full:
                return
            thread.join(timeout)

    # --- delivery -----------------------------------------------------------------

    def _out(self, notices: list[Notice]) -> None:
        for notice in notices:
            self.sent.append(notice)
            log.info("notice %s: %s", notice.kind, notice.title)
            for channel in self.channels:
                if not channel.blocking:
                    self._deliver(channel, notice)
            if any(c.blocking for c in self.channels):
                self._start_thread()
                try:
                    self._queue.put_nowait(notice)
                except queue.Full:
                    log.warning("notice dropped (%d waiting already): %s", QUEUE_SIZE, notice.title)

    def _start_thread(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="oneie-notify", daemon=True)
            self._thread.start()

    def _work(self) -> None:
        while (notice := self._queue.get()) is not None:
            for channel in self.channels:
                if channel.blocking:
                    self._deliver(channel, notice)

    def _deliver(self, channel: Channel, notice: Notice) -> None:
        try:
            channel.deliver(notice)
        except Exception as exc:  # a channel is a courtesy: it never breaks the run
            count = self._failures[channel.name] = self._failures.get(channel.name, 0) + 1
            if count == 1:
                log.warning("notify: %s failed: %s (later failures are logged at debug level)",
                            channel.name, _one_line(exc))
            else:
                log.debug("notify: %s failed again (%d): %s", channel.name, count, _one_line(exc))

    def failures(self, channel: str) -> int:
        return self._failures.get(channel, 0)


def _one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return (lines[0] if lines else type(exc).__name__)[:200]
