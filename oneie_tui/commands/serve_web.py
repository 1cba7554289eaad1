"""The web server of `oneie serve`: textual-serve's server with a token, one read-only
command per route, and no access log (the first URL carries the token)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web
from textual_serve.app_service import AppService
from textual_serve.server import Server

from oneie_tui.commands.serve_rules import COOKIE, RUN_ID, app_command, same_origin, token_ok

log = logging.getLogger("oneie.serve")
Handler = Any  # aiohttp's handler type


class OneieServer(Server):  # type: ignore[misc]
    def __init__(self, token: str, *, host: str, port: int, public_url: str | None) -> None:
        super().__init__(app_command("history", "--read-only"), host=host, port=port,
                         title="oneie", public_url=public_url)
        self.public_url: str = self.public_url.rstrip("/")
        self._token = token

    # --- the token ----------------------------------------------------------------

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        given = request.query.get("token") or request.cookies.get(COOKIE, "")
        if not token_ok(given, self._token):
            return web.Response(status=401, text="oneie serve: open the URL with the token printed at start\n")
        if not same_origin(request.headers.get("Origin"), request.host):
            return web.Response(status=403, text="oneie serve: another site's page cannot open a tab\n")
        response: web.StreamResponse = await handler(request)
        if "token" in request.query and not response.prepared:
            response.set_cookie(COOKIE, self._token, httponly=True, samesite="Strict", path="/")
        return response

    async def _make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._guard])
        aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(self.templates_path))
        app.add_routes([
            web.get("/", self._index_history),
            web.get("/watch/{run}", self._index_watch),
            web.get("/ws", self._ws_history),
            web.get("/ws/watch/{run}", self._ws_watch),
            web.static("/static", self.statics_path, name="static"),
        ])
        return app

    # --- pages and their app processes ---------------------------------------------------

    def _page(self, request: web.Request, ws_path: str, name: str) -> web.Response:
        ws = ("wss:" if self.public_url.startswith("https") else "ws:") + self.public_url.split(":", 1)[1]
        context = {
            "font_size": 16,
            "app_websocket_url": ws + ws_path,
            "config": {"static": {"url": f"{self.public_url}/static/"}},
            "application": {"name": name},
        }
        response: web.Response = aiohttp_jinja2.render_template("app_index.html", request, context)
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "no-referrer"  # the URL may hold the token
        return response

    @staticmethod
    def _run_of(request: web.Request) -> str:
        run = request.match_info["run"]
        if not RUN_ID.fullmatch(run):
            raise web.HTTPNotFound(text="oneie serve: not a run id\n")
        return run

    async def _index_history(self, request: web.Request) -> web.Response:
        return self._page(request, "/ws", "oneie history")

    async def _index_watch(self, request: web.Request) -> web.Response:
        run = self._run_of(request)
        return self._page(request, f"/ws/watch/{run}", f"oneie watch {run}")

    async def _ws_history(self, request: web.Request) -> web.WebSocketResponse:
        return await self._tab(request, app_command("history", "--read-only"))

    async def _ws_watch(self, request: web.Request) -> web.WebSocketResponse:
        return await self._tab(request, app_command("watch", self._run_of(request)))

    async def _tab(self, request: web.Request, command: str) -> web.WebSocketResponse:
        """One browser tab: its own app process running `command`, ended with the tab."""
        websocket = web.WebSocketResponse(heartbeat=15)
        width = _int(request.query.get("width"), 80)
        height = _int(request.query.get("height"), 24)
        service: AppService | None = None

        async def close() -> None:
            await websocket.close()

        try:
            await websocket.prepare(request)
            service = AppService(command, write_bytes=websocket.send_bytes, write_str=websocket.send_str,
                                 close=close, download_manager=self.download_manager)
            await service.start(width, height)
            await self._process_messages(websocket, service)
        except asyncio.CancelledError:
            await websocket.close()
        except Exception as exc:  # one tab's failure is logged, the server keeps serving
            log.warning("a tab failed: %s", exc)
        finally:
            if service is not None:
                await service.stop()
        return websocket

    async def on_startup(self, app: web.Application) -> None:
        return None  # the command prints its own start line (with the token)

    def run(self) -> None:
        web.run_app(self._make_app(), host=self.host, port=self.port, access_log=None,
                    print=lambda *_: None)


def _int(text: str | None, default: int) -> int:
    try:
        return max(10, min(1000, int(text or default)))
    except ValueError:
        return default
