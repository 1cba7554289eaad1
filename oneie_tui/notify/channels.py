"""Where a notice goes: the terminal (bell and OSC, through a write function its owner
gives: the dashboard's driver, or a headless run's stderr on a TTY), `notify-send`, and a
webhook. `blocking` channels are called on the notifier's own thread, never on the run's.

`notify-send` gets an argument list (no shell) after `--`, so a title can never be read
as an option, and is killed after `NOTIFY_SEND_TIMEOUT_S`. The webhook is one JSON POST
with a timeout and no redirects followed (a redirect could lead off the checked URL)."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from oneie_tui.notify.detector import Notice
from oneie_tui.notify.settings import NotifySettings
from oneie_tui.notify.terminal import Osc, osc_flavor, terminal_bytes
from oneie_tui.notify.text import one_line
from oneie_tui.trust.webhook_url import check_webhook_url

NOTIFY_SEND_TIMEOUT_S = 5.0
WEBHOOK_TIMEOUT_S = 5.0
USER_AGENT = "oneie-notify/1"


class Channel(Protocol):
    name: str
    blocking: bool

    def deliver(self, notice: Notice) -> None: ...


@dataclass
class TerminalChannel:
    write: Callable[[str], None]
    bell: bool
    flavor: Osc | None
    name: str = "terminal"
    blocking: bool = False

    def deliver(self, notice: Notice) -> None:
        data = terminal_bytes(notice, bell=self.bell, flavor=self.flavor)
        if data:
            self.write(data)


@dataclass
class NotifySend:
    program: str
    timeout: float = NOTIFY_SEND_TIMEOUT_S
    name: str = "notify-send"
    blocking: bool = True

    def argv(self, notice: Notice) -> list[str]:
        urgency = "normal" if notice.kind == "finished" and (notice.outcome or "").startswith("completed") else "critical"
        return [self.program, "--app-name=oneie", f"--urgency={urgency}", "--",
                one_line(notice.title, 80), one_line(notice.body, 240)]

    def deliver(self, notice: Notice) -> None:
        subprocess.run(self.argv(notice), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=self.timeout, check=True)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a 3xx is an answer, an error for us: the URL was the one checked


@dataclass
class Webhook:
    url: str
    serve_url: str | None = None
    timeout: float = WEBHOOK_TIMEOUT_S
    name: str = "webhook"
    blocking: bool = True

    def __post_init__(self) -> None:
        check_webhook_url(self.url)  # settings were checked already; a second look is cheap

    def link(self, run_id: str) -> str:
        if self.serve_url:
            return f"{self.serve_url.rstrip('/')}/watch/{urllib.parse.quote(run_id, safe='')}"
        return f"oneie://run/{run_id}"

    def payload(self, notice: Notice) -> dict[str, Any]:
        return {
            "run": notice.run_id,
            "kind": notice.kind,
            "outcome": notice.outcome,
            "title": notice.title,
            "text": notice.body,
            "agents": list(notice.agents),
            "link": self.link(notice.run_id),
        }

    def deliver(self, notice: Notice) -> None:
        body = json.dumps(self.payload(notice), ensure_ascii=False).encode("utf-8")
        request = urllib.request.Request(
            self.url, data=body, method="POST",
            headers={"Content-Type": "application/json", "User-Agent": USER_AGENT},
        )
        opener = urllib.request.build_opener(_NoRedirects)
        with opener.open(request, timeout=self.timeout) as response:  # HTTPError on 4xx/5xx
            response.read(4096)


def default_channels(
    settings: NotifySettings,
    *,
    terminal_write: Callable[[str], None] | None,
    env: Mapping[str, str],
) -> list[Channel]:
    """The channels `settings` ask for, on this terminal and machine. The desktop notice
    is sent one way: through the terminal's OSC when it has one, else `notify-send`."""
    if not settings.on:
        return []
    out: list[Channel] = []
    flavor: Osc | None = None
    if terminal_write is not None:
        if settings.desktop in ("osc9", "osc777"):
            flavor = "osc9" if settings.desktop == "osc9" else "osc777"
        elif settings.desktop == "auto":
            flavor = osc_flavor(env)
        if settings.bell or flavor:
            out.append(TerminalChannel(terminal_write, settings.bell, flavor))
    if settings.desktop == "notify-send" or (settings.desktop == "auto" and flavor is None):
        program = shutil.which("notify-send", path=env.get("PATH", ""))
        if program:
            out.append(NotifySend(program))
    if settings.webhook:
        out.append(Webhook(settings.webhook, settings.serve_url))
    return out
