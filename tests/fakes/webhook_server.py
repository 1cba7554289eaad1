"""A webhook receiver on 127.0.0.1 for the notification tests: records every POST (path,
headers, JSON body) and answers as told: `ok` (204), `fail` (500) or `slow` (waits
`delay` seconds before answering, longer than a client's timeout)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    content_type: str
    body: dict[str, Any]


@dataclass
class Hook:
    url: str
    mode: str = "ok"
    delay: float = 3.0
    posts: list[Received] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)

    def wait(self, count: int, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.posts) < count and time.monotonic() < deadline:
            self.arrived.wait(0.05)
            self.arrived.clear()
        return list(self.posts)


@contextmanager
def webhook_server(mode: str = "ok", delay: float = 3.0) -> Iterator[Hook]:
    hook = Hook("", mode, delay)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            size = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(size)
            hook.posts.append(Received(self.path, self.headers.get("Content-Type", ""), json.loads(raw)))
            hook.arrived.set()
            if hook.mode == "slow":
                time.sleep(hook.delay)
            self.send_response(500 if hook.mode == "fail" else 204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    hook.url = f"http://127.0.0.1:{server.server_address[1]}/hook/abc"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
