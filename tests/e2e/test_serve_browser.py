"""`oneie serve` in a real browser: Debian's headless Chromium driven by Playwright (its
own browser download cannot work offline), on a run recorded in PostgreSQL. The test
opens the history, opens a run with a key press, checks the page through screenshots and
what the tab's app process sent, and keeps the screenshots and a Playwright trace (the
key press recorded) in build/test-artifacts/serve/. Without the token nothing is served."""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from oneie_tui.store.open import open_store
from tests.fakes.pg_server import PgServer
from tests.history_support import store_ideal_run

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "build" / "test-artifacts" / "serve"
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
RUN = "20260101-000000-abc123"
ANSI = re.compile(r"\x1b(\[[0-9;?<>=]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[PX^_][^\x1b]*\x1b\\|.)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(pg_server: PgServer, tmp_path: Path) -> Iterator[tuple[str, str, subprocess.Popen[str]]]:
    """`oneie serve` on a PostgreSQL store holding one recorded run: (url with token,
    the server's first line, the server process)."""
    store_url = pg_server.create_database(f"serve{os.getpid()}_{time.monotonic_ns()}")
    store = open_store(store_url)
    store_ideal_run(store, "course-crud", RUN)
    store.close()
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "oneie_tui", "serve", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        env={**os.environ, "ONEIE_STORE": store_url, "PYTHONPATH": str(ROOT)},
    )
    assert proc.stdout is not None
    lines = [proc.stdout.readline(), proc.stdout.readline()]
    url = lines[1].split()[-1]
    assert url.startswith(f"http://127.0.0.1:{port}/?token=")
    deadline = time.monotonic() + 30
    while True:  # until the port answers
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            assert time.monotonic() < deadline, "oneie serve never listened"
            time.sleep(0.1)
    try:
        yield url, lines[0], proc
    finally:
        proc.terminate()
        try:
            proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.communicate()


def _status(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str]]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=10) as r:
            return r.status, dict(r.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers)


def test_nothing_is_served_without_the_token(served: tuple[str, str, subprocess.Popen[str]],
                                             pg_server: PgServer) -> None:
    url, first, proc = served
    assert first.strip().startswith("oneie serve: the run history in postgresql://oneie:***@127.0.0.1:")
    base, token = url.split("/?token=")
    assert _status(base + "/")[0] == 401
    assert _status(base + "/static/js/textual.js")[0] == 401
    assert _status(base + "/ws")[0] == 401
    assert _status(f"{base}/?token={token[:-1]}x")[0] == 401
    code, headers = _status(url)
    assert code == 200
    cookie = headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    with_cookie = {"Cookie": f"oneie_token={token}"}
    assert _status(base + "/static/js/textual.js", with_cookie)[0] == 200
    assert _status(base + "/watch/../etc", with_cookie)[0] == 404
    assert _status(base + "/", {**with_cookie, "Origin": "http://evil.example"})[0] == 403
    proc.terminate()
    out, err = proc.communicate(timeout=20)
    assert pg_server.password not in first + url + out + err  # the store URL is shown masked


def _text(frames: list[bytes]) -> str:
    data = b"".join(frames).decode("utf-8", "replace")
    return ANSI.sub("", data)


def _colours(page: Any, png: bytes) -> int:
    """How many distinct colours a screenshot has (counted by the browser itself)."""
    page.set_content(f'<img id="s" src="data:image/png;base64,{base64.b64encode(png).decode()}">')
    page.wait_for_function("document.getElementById('s').complete")
    return int(page.evaluate(
        """() => { const img = document.getElementById('s'); const c = document.createElement('canvas');
        c.width = img.naturalWidth; c.height = img.naturalHeight; const g = c.getContext('2d');
        g.drawImage(img, 0, 0); const d = g.getImageData(0, 0, c.width, c.height).data;
        const seen = new Set(); for (let i = 0; i < d.length; i += 4 * 7) seen.add((d[i] << 16) | (d[i+1] << 8) | d[i+2]);
        return seen.size; }"""
    ))


def test_history_and_a_run_in_a_real_browser(served: tuple[str, str, subprocess.Popen[str]]) -> None:
    from playwright.sync_api import sync_playwright

    url, _, _ = served
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    frames: list[bytes] = []

    def on_socket(ws: Any) -> None:
        ws.on("framereceived", lambda payload: frames.append(payload if isinstance(payload, bytes) else payload.encode()))

    def wait_text(page: Any, needle: str, seconds: float = 40) -> None:
        deadline = time.monotonic() + seconds
        while needle not in _text(frames):
            assert time.monotonic() < deadline, f"{needle!r} never reached the page"
            page.wait_for_timeout(100)

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        context.tracing.start(screenshots=True, snapshots=True)
        page = context.new_page()
        page.on("websocket", on_socket)
        page.goto(url)
        page.wait_for_selector("body.-first-byte", timeout=40_000)
        wait_text(page, "Course CRUD")  # the history lists the recorded run
        page.wait_for_timeout(500)  # the last frame painted
        history_png = page.screenshot(path=str(ARTIFACTS / "history.png"))
        before = len(frames)
        page.click("#terminal")
        page.keyboard.press("Enter")  # open the run
        wait_text(page, "replay · no agent runs")
        assert len(frames) > before
        page.wait_for_timeout(500)
        run_png = page.screenshot(path=str(ARTIFACTS / "run.png"))
        context.tracing.stop(path=str(ARTIFACTS / "trace.zip"))
        checker = browser.new_page()
        history_colours, run_colours = _colours(checker, history_png), _colours(checker, run_png)
        browser.close()
    assert history_colours > 8 and run_colours > 8  # drawn terminals, not a blank page
    assert history_png != run_png
    assert "agent-backend" in _text(frames)  # the run's panels reached the page
    (ARTIFACTS / "frames.json").write_text(json.dumps({"text_tail": _text(frames)[-4000:]}), encoding="utf-8")
    assert (ARTIFACTS / "trace.zip").stat().st_size > 10_000
