"""A scripted Anthropic Messages API server on 127.0.0.1, for offline tests with real clients.

Point the real ``anthropic`` SDK (``AsyncAnthropic(base_url=srv.base_url)``) or the Claude
Code CLI (``ANTHROPIC_BASE_URL=srv.base_url``) at it. It is a real HTTP server
(``ThreadingHTTPServer``) on a random loopback port; it works from sync and async tests::

    from tests.fakes.anthropic_server import ScriptedAnthropicServer, text, tool_use

    with ScriptedAnthropicServer([text("Hello ", "world"), finish("done")]) as srv:
        client = AsyncAnthropic(api_key="sk-test", base_url=srv.base_url)
        ...
        srv.requests            # every request received, in arrival order (RecordedRequest)
        srv.message_requests()  # only POST /v1/messages

``async with ScriptedAnthropicServer(...) as srv`` works too.

Scripts
-------
A script is either

* a list of replies, served in order to ``POST /v1/messages`` requests (one entry per
  request, so a retried request consumes the next entry: ``[rate_limit(1), text("ok")]``);
* a function ``(RecordedRequest) -> Reply`` (return ``None`` for the default reply), which
  lets parallel agents be answered by who they are: ``per_agent({...})`` builds one that finds
  the agent id in the request text and serves that agent's own list in order.

When a list runs out, the server answers ``default`` (constructor argument; by default
``text("ok")`` ending the turn). ``srv.script_exhausted`` counts those default answers.

Reply builders (all module-level functions)
-------------------------------------------
``text(*chunks, ...)``                   text turn; each chunk is one ``text_delta``.
``tool_use(name, input, text=None, ...)`` a tool_use turn (stop_reason ``tool_use``); the
                                         input JSON is streamed in ``input_json_delta`` parts.
``emit_event(action, metadata=None)``, ``report_progress(percent, note="")``,
``wait_for_events(actions, mode="all", timeout=None)``, ``finish(summary, status="success")``
                                         tool_use turns for the oneie coordination tools.
``bash(command)``                        a Claude Code ``Bash`` tool_use with ``{"command": ...}``.
``turn(blocks, stop_reason=...)``        several blocks in one turn: ``TextBlock``/``ToolUseBlock``.
``http_error(status, error_type, message, headers=None)`` an error answer before any stream.
``rate_limit(retry_after=1.0, ms=False)`` 429 ``rate_limit_error`` with ``retry-after``
                                         (or ``retry-after-ms`` when ``ms``).
``overloaded()``                         529 ``overloaded_error``.
``server_error(status=500)``             5xx ``api_error``.
``mid_stream_error(*chunks, error_type="overloaded_error")`` streams ``message_start`` and the
                                         text chunks, then an ``event: error`` and closes.
``disconnect(*chunks)``                  streams the chunks, then half an event and a TCP reset
                                         (the client sees a connection error).
``bad_request(message)``, ``unauthorized(message)`` 400 ``invalid_request_error`` and 401
                                         ``authentication_error``.

Every turn builder accepts ``usage=Usage(...)`` (explicit figures for ``message_start`` /
``message_delta``; fields left ``None`` are estimated), ``chunk_delay`` (seconds to sleep
before each SSE event: slow streams), ``delay`` (seconds before the response headers: a stall
the client's timeout can hit) and ``model``.

Usage and prompt caching
------------------------
Unscripted usage is estimated at 4 characters per token. With ``simulate_cache=True`` (the
default) the server imitates prompt caching: the prefix ``tools + system blocks up to the
last one carrying cache_control`` is a cache entry. A request whose prefix is cached reports
``cache_read_input_tokens``; otherwise it reports ``cache_creation_input_tokens``. An entry
becomes readable only once the response that wrote it has started streaming, so requests sent
at the same instant all miss (as the real API behaves).

Requests
--------
``RecordedRequest``: ``method``, ``path`` (without query), ``query`` (dict), ``headers``
(lower-case keys, secrets intact for assertions), ``body`` (parsed JSON or ``None``),
``received_at`` / ``stream_started_at`` / ``finished_at`` (``time.monotonic()``; the start of
the streamed body, for ordering checks), ``disconnected`` (the client closed the connection
before the reply was complete, e.g. a cancelled stream) and helpers ``system_text``,
``user_texts``, ``tool_results``, ``text()``, ``tool_names``.

Server helpers: ``srv.message_requests()`` (POST /v1/messages only),
``srv.wait_for_requests(n, timeout=10)`` (block until n arrived; for sync tests and threads),
``srv.add(*replies)`` (append to a list script while running), ``srv.port``, ``srv.base_url``.
``find_agent(req, ids)`` is the routing rule ``per_agent`` uses: the first user message, then
the system blocks after the first, then all text; longest id first.

Other endpoints: ``POST /v1/messages/count_tokens`` answers ``{"input_tokens": N}``;
``GET /v1/models`` lists one model; any other path answers ``200 {}`` (and is recorded), so
telemetry-ish calls from the Claude Code CLI never fail.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import select
import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

DEFAULT_MODEL = "claude-sonnet-5-5"
CHARS_PER_TOKEN = 4


# --------------------------------------------------------------------------- replies


@dataclass
class Usage:
    """Scripted usage. ``None`` fields are estimated (or come from the cache simulation)."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_creation_input_tokens: int | None = None
    cache_read_input_tokens: int | None = None


@dataclass
class TextBlock:
    chunks: Sequence[str]


@dataclass
class ToolUseBlock:
    name: str
    input: Mapping[str, Any]
    id: str | None = None
    parts: int = 3  # how many input_json_delta pieces the JSON is cut into


Block = TextBlock | ToolUseBlock


@dataclass
class Reply:
    """One scripted answer. ``kind`` is ``turn`` | ``http_error`` | ``mid_stream_error`` |
    ``disconnect``."""

    kind: str = "turn"
    blocks: list[Block] = field(default_factory=list)
    stop_reason: str = "end_turn"
    usage: Usage = field(default_factory=Usage)
    chunk_delay: float = 0.0
    delay: float = 0.0
    model: str | None = None
    status: int = 200
    error_type: str = ""
    message: str = ""
    headers: dict[str, str] = field(default_factory=dict)


ScriptFn = Callable[["RecordedRequest"], Reply | None]
Script = Sequence[Reply] | ScriptFn


def turn(
    blocks: Sequence[Block],
    *,
    stop_reason: str | None = None,
    usage: Usage | None = None,
    chunk_delay: float = 0.0,
    delay: float = 0.0,
    model: str | None = None,
) -> Reply:
    if stop_reason is None:
        has_tool = any(isinstance(b, ToolUseBlock) for b in blocks)
        stop_reason = "tool_use" if has_tool else "end_turn"
    return Reply(
        blocks=list(blocks),
        stop_reason=stop_reason,
        usage=usage or Usage(),
        chunk_delay=chunk_delay,
        delay=delay,
        model=model,
    )


def text(
    *chunks: str,
    stop_reason: str = "end_turn",
    usage: Usage | None = None,
    chunk_delay: float = 0.0,
    delay: float = 0.0,
    model: str | None = None,
) -> Reply:
    return turn(
        [TextBlock(list(chunks) or [""])],
        stop_reason=stop_reason,
        usage=usage,
        chunk_delay=chunk_delay,
        delay=delay,
        model=model,
    )


def tool_use(
    name: str,
    input: Mapping[str, Any],
    *,
    text: str | Sequence[str] | None = None,
    id: str | None = None,
    usage: Usage | None = None,
    chunk_delay: float = 0.0,
    delay: float = 0.0,
    model: str | None = None,
) -> Reply:
    blocks: list[Block] = []
    if text is not None:
        blocks.append(TextBlock([text] if isinstance(text, str) else list(text)))
    blocks.append(ToolUseBlock(name=name, input=dict(input), id=id))
    return turn(blocks, usage=usage, chunk_delay=chunk_delay, delay=delay, model=model)


def emit_event(action: str, metadata: Mapping[str, Any] | None = None, **kw: Any) -> Reply:
    return tool_use("emit_event", {"action": action, "metadata": dict(metadata or {})}, **kw)


def report_progress(percent: float, note: str = "", **kw: Any) -> Reply:
    return tool_use("report_progress", {"percent": percent, "note": note}, **kw)


def wait_for_events(
    actions: Sequence[str], mode: str = "all", timeout: float | None = None, **kw: Any
) -> Reply:
    args: dict[str, Any] = {"actions": list(actions), "mode": mode}
    if timeout is not None:
        args["timeout"] = timeout
    return tool_use("wait_for_events", args, **kw)


def finish(summary: str, status: str = "success", **kw: Any) -> Reply:
    return tool_use("finish", {"summary": summary, "status": status}, **kw)


def bash(command: str, description: str | None = None, **kw: Any) -> Reply:
    args: dict[str, Any] = {"command": command}
    if description:
        args["description"] = description
    return tool_use("Bash", args, **kw)


def http_error(
    status: int,
    error_type: str,
    message: str = "",
    headers: Mapping[str, str] | None = None,
    delay: float = 0.0,
) -> Reply:
    return Reply(
        kind="http_error",
        status=status,
        error_type=error_type,
        message=message or error_type,
        headers=dict(headers or {}),
        delay=delay,
    )


def rate_limit(retry_after: float = 1.0, ms: bool = False) -> Reply:
    if ms:
        headers = {"retry-after-ms": str(int(retry_after * 1000))}
    else:
        headers = {"retry-after": f"{retry_after:g}"}
    return http_error(
        429, "rate_limit_error", "Number of requests has exceeded your rate limit", headers
    )


def overloaded() -> Reply:
    return http_error(529, "overloaded_error", "Overloaded")


def server_error(status: int = 500) -> Reply:
    return http_error(status, "api_error", "Internal server error")


def bad_request(message: str = "messages: field required") -> Reply:
    return http_error(400, "invalid_request_error", message)


def unauthorized(message: str = "invalid x-api-key") -> Reply:
    return http_error(401, "authentication_error", message)


def mid_stream_error(
    *chunks: str,
    error_type: str = "overloaded_error",
    message: str = "Overloaded",
    usage: Usage | None = None,
    chunk_delay: float = 0.0,
) -> Reply:
    return Reply(
        kind="mid_stream_error",
        blocks=[TextBlock(list(chunks))] if chunks else [],
        error_type=error_type,
        message=message,
        usage=usage or Usage(),
        chunk_delay=chunk_delay,
    )


def disconnect(*chunks: str, chunk_delay: float = 0.0) -> Reply:
    return Reply(
        kind="disconnect",
        blocks=[TextBlock(list(chunks))] if chunks else [],
        chunk_delay=chunk_delay,
    )


# --------------------------------------------------------------- hostile servers
# Answers no Anthropic API sends (a proxy's login page, a misrouted base URL, a broken or
# malicious server), for the client's hostile-input tests.


def raw_body(
    body: bytes, content_type: str = "text/html", status: int = 200, headers: Mapping[str, str] | None = None
) -> Reply:
    """`status` with exactly `body` and `content_type` (an HTML page, a plain JSON body)."""
    return Reply(kind="raw", status=status, message=body.decode("latin-1"), error_type=content_type,
                 headers=dict(headers or {}))


def redirect(location: str, status: int = 302) -> Reply:
    return raw_body(b"", "text/plain", status, {"location": location})


def invalid_sse_json() -> Reply:
    """A 200 event stream whose first event's data is not JSON."""
    return Reply(kind="sse_raw", message="event: message_start\ndata: {not json at all\n\n")


def endless_pings(interval: float = 0.05) -> Reply:
    """An event stream that starts a message and then only pings, forever."""
    return Reply(kind="pings", chunk_delay=interval)


def slow_drip(interval: float = 0.2) -> Reply:
    """An event stream sent one byte every `interval` seconds, never ending."""
    return Reply(kind="drip", chunk_delay=interval)


def gzip_bomb(decoded_mib: int = 256) -> Reply:
    """An event stream, gzip-encoded, whose one event inflates to `decoded_mib` MiB."""
    return Reply(kind="bomb", status=decoded_mib)


# --------------------------------------------------------------------------- requests


@dataclass
class RecordedRequest:
    index: int
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    received_at: float
    stream_started_at: float | None = None
    finished_at: float | None = None
    disconnected: bool = False
    reply_kind: str = ""

    @property
    def is_messages(self) -> bool:
        return self.method == "POST" and self.path == "/v1/messages"

    @property
    def system_blocks(self) -> list[dict[str, Any]]:
        system = (self.body or {}).get("system") if isinstance(self.body, dict) else None
        if system is None:
            return []
        if isinstance(system, str):
            return [{"type": "text", "text": system}]
        return [b for b in system if isinstance(b, dict)]

    @property
    def system_text(self) -> str:
        return "\n".join(str(b.get("text", "")) for b in self.system_blocks)

    @property
    def messages(self) -> list[dict[str, Any]]:
        if not isinstance(self.body, dict):
            return []
        return [m for m in self.body.get("messages", []) if isinstance(m, dict)]

    @property
    def user_texts(self) -> list[str]:
        """The text of every user message (text blocks and plain strings), in order."""
        out: list[str] = []
        for m in self.messages:
            if m.get("role") != "user":
                continue
            content = m.get("content")
            if isinstance(content, str):
                out.append(content)
            elif isinstance(content, list):
                out.extend(
                    str(b.get("text", ""))
                    for b in content
                    if isinstance(b, dict) and b.get("type") == "text"
                )
        return out

    @property
    def tool_results(self) -> list[dict[str, Any]]:
        """Every tool_result block sent by the client, in order."""
        out: list[dict[str, Any]] = []
        for m in self.messages:
            content = m.get("content")
            if m.get("role") == "user" and isinstance(content, list):
                out.extend(
                    b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"
                )
        return out

    @property
    def tool_names(self) -> list[str]:
        if not isinstance(self.body, dict):
            return []
        return [str(t.get("name")) for t in self.body.get("tools", []) if isinstance(t, dict)]

    def text(self) -> str:
        """System text plus every user text: what a routing function usually searches."""
        return "\n".join([self.system_text, *self.user_texts])


def find_agent(req: RecordedRequest, agent_ids: Sequence[str]) -> str | None:
    """Which agent sent this request? The first user message (the task prompt) is searched
    first, then the system blocks after the first (the per-agent brief; the first block is
    the shared context naming every agent), then all the text. Longest ids win ties so
    ``agent-backend-2`` is not taken for ``agent-backend``."""
    ordered = sorted(agent_ids, key=len, reverse=True)
    first_user = req.user_texts[:1]
    later_system = [str(b.get("text", "")) for b in req.system_blocks[1:]]
    for haystack in (*first_user, *later_system, req.text()):
        for agent in ordered:
            if re.search(rf"(?<![\w-]){re.escape(agent)}(?![\w-])", haystack):
                return agent
    return None


def per_agent(
    scripts: Mapping[str, Sequence[Reply]],
    *,
    default: Reply | None = None,
    finder: Callable[[RecordedRequest, Sequence[str]], str | None] = find_agent,
) -> ScriptFn:
    """A script function serving each agent its own list, in order. ``default`` answers an
    agent whose list ran out (``None`` → the server default)."""
    queues = {agent: list(replies) for agent, replies in scripts.items()}
    lock = threading.Lock()

    def answer(req: RecordedRequest) -> Reply | None:
        agent = finder(req, list(queues))
        with lock:
            if agent is None or not queues[agent]:
                return default
            return queues[agent].pop(0)

    return answer


# --------------------------------------------------------------------------- server


def _tokens(chars: int) -> int:
    return max(1, chars // CHARS_PER_TOKEN)


def _json(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


class _Cache:
    """Prompt-cache imitation: prefix hash → readable?"""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.readable: set[str] = set()

    @staticmethod
    def prefix(body: Mapping[str, Any]) -> tuple[str, int] | None:
        system = body.get("system")
        if not isinstance(system, list):
            return None
        last = max(
            (i for i, b in enumerate(system) if isinstance(b, dict) and b.get("cache_control")),
            default=-1,
        )
        if last < 0:
            return None
        payload = _json({"tools": body.get("tools", []), "system": system[: last + 1]})
        return hashlib.sha256(payload.encode()).hexdigest(), _tokens(len(payload))


class ScriptedAnthropicServer:
    """See the module docstring."""

    def __init__(
        self,
        script: Script | None = None,
        *,
        default: Reply | None = None,
        simulate_cache: bool = True,
        model: str = DEFAULT_MODEL,
    ) -> None:
        self._script_fn: ScriptFn | None = None
        self._script_list: list[Reply] = []
        if callable(script):
            self._script_fn = script
        elif script is not None:
            self._script_list = list(script)
        self.default = default or text("ok")
        self.simulate_cache = simulate_cache
        self.model = model
        self.requests: list[RecordedRequest] = []
        self.script_exhausted = 0
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._cache = _Cache()
        self._ids = itertools.count(1)
        self._closing = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ScriptedAnthropicServer:
        handler = type("Handler", (_Handler,), {"server_ref": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-anthropic",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._closing.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> ScriptedAnthropicServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> ScriptedAnthropicServer:
        return self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ scripting

    def add(self, *replies: Reply) -> None:
        """Append replies to a list script (while running, too)."""
        with self._lock:
            self._script_list.extend(replies)

    def message_requests(self) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.is_messages]

    def wait_for_requests(self, n: int, timeout: float = 10.0) -> list[RecordedRequest]:
        """Block until at least ``n`` /v1/messages requests arrived (sync tests / threads)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while sum(r.is_messages for r in self.requests) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"expected {n} message requests, got {len(self.requests)}")
                self._cond.wait(left)
            return [r for r in self.requests if r.is_messages]

    def _record(self, req: RecordedRequest) -> None:
        with self._cond:
            self.requests.append(req)
            self._cond.notify_all()

    def _next_reply(self, req: RecordedRequest) -> Reply:
        if self._script_fn is not None:
            reply = self._script_fn(req)
            if reply is not None:
                return reply
            with self._lock:
                self.script_exhausted += 1
            return self.default
        with self._lock:
            if self._script_list:
                return self._script_list.pop(0)
            self.script_exhausted += 1
            return self.default

    def _sleep(self, seconds: float) -> bool:
        """Sleep unless the server is closing. False when closing."""
        if seconds <= 0:
            return not self._closing.is_set()
        return not self._closing.wait(seconds)

    def _usage_for(self, body: Mapping[str, Any], reply: Reply) -> dict[str, int]:
        """Input-side usage: the estimate, the cache simulation, then scripted overrides."""
        total = _tokens(len(_json({k: body.get(k) for k in ("tools", "system", "messages")})))
        created = read = 0
        prefix = _Cache.prefix(body) if self.simulate_cache else None
        if prefix is not None:
            key, prefix_tokens = prefix
            with self._cache.lock:
                hit = key in self._cache.readable
            if hit:
                read = prefix_tokens
            else:
                created = prefix_tokens
            total = max(total - prefix_tokens, 1)
        u = reply.usage
        return {
            "input_tokens": total if u.input_tokens is None else u.input_tokens,
            "cache_creation_input_tokens": created
            if u.cache_creation_input_tokens is None
            else u.cache_creation_input_tokens,
            "cache_read_input_tokens": read
            if u.cache_read_input_tokens is None
            else u.cache_read_input_tokens,
        }

    def _mark_cached(self, body: Mapping[str, Any]) -> None:
        prefix = _Cache.prefix(body) if self.simulate_cache else None
        if prefix is not None:
            with self._cache.lock:
                self._cache.readable.add(prefix[0])


def _output_tokens(reply: Reply) -> int:
    if reply.usage.output_tokens is not None:
        return reply.usage.output_tokens
    chars = 0
    for b in reply.blocks:
        chars += sum(len(c) for c in b.chunks) if isinstance(b, TextBlock) else len(_json(b.input))
    return _tokens(chars)


def _split(s: str, parts: int) -> list[str]:
    if parts <= 1 or len(s) <= parts:
        return [s]
    step = -(-len(s) // parts)
    return [s[i : i + step] for i in range(0, len(s), step)]


class _Handler(BaseHTTPRequestHandler):
    server_ref: ScriptedAnthropicServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    # ------------------------------------------------------------------ plumbing

    def _read_request(self) -> RecordedRequest:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        parts = urlsplit(self.path)
        srv = self.server_ref
        return RecordedRequest(
            index=len(srv.requests),
            method=self.command,
            path=parts.path,
            query=dict(parse_qsl(parts.query)),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            received_at=time.monotonic(),
        )

    def _send_json(self, status: int, obj: Any, headers: Mapping[str, str] | None = None) -> None:
        data = _json(obj).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.send_header("request-id", f"req_fake_{next(self.server_ref._ids)}")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def _client_gone(self) -> bool:
        """Did the client close the connection (e.g. a cancelled stream)?"""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True

    def do_GET(self) -> None:
        req = self._read_request()
        self.server_ref._record(req)
        if req.path == "/v1/models":
            m = self.server_ref.model
            self._send_json(
                200, {"data": [{"type": "model", "id": m, "display_name": m}], "has_more": False}
            )
        else:
            self._send_json(200, {})
        req.finished_at = time.monotonic()

    def do_POST(self) -> None:
        req = self._read_request()
        srv = self.server_ref
        srv._record(req)
        try:
            if req.path == "/v1/messages/count_tokens":
                body = req.body if isinstance(req.body, dict) else {}
                self._send_json(
                    200, {"input_tokens": srv._usage_for(body, Reply())["input_tokens"]}
                )
            elif req.path == "/v1/messages":
                self._messages(req)
            else:
                self._send_json(200, {})
        except (BrokenPipeError, ConnectionResetError):
            req.disconnected = True
            self.close_connection = True
        finally:
            req.finished_at = time.monotonic()

    # ------------------------------------------------------------------ /v1/messages

    def _messages(self, req: RecordedRequest) -> None:
        srv = self.server_ref
        reply = srv._next_reply(req)
        req.reply_kind = reply.kind
        body: dict[str, Any] = req.body if isinstance(req.body, dict) else {}
        usage_in = srv._usage_for(body, reply)  # the cache is looked up on arrival
        if not srv._sleep(reply.delay):
            return
        if reply.kind in ("raw", "sse_raw", "pings", "drip", "bomb"):
            self._hostile(req, reply)
            return
        if reply.kind == "http_error":
            error = {"type": "error", "error": {"type": reply.error_type, "message": reply.message}}
            self._send_json(reply.status, error, reply.headers)
            return
        model = reply.model or str(body.get("model") or srv.model)
        msg_id = f"msg_fake_{next(srv._ids)}"
        if not body.get("stream"):
            self._send_json(200, self._full_message(reply, msg_id, model, usage_in))
            srv._mark_cached(body)
            return
        self._stream(req, reply, msg_id, model, usage_in, body)

    def _full_message(
        self, reply: Reply, msg_id: str, model: str, usage_in: dict[str, int]
    ) -> dict[str, Any]:
        content: list[dict[str, Any]] = []
        for b in reply.blocks:
            if isinstance(b, TextBlock):
                content.append({"type": "text", "text": "".join(b.chunks)})
            else:
                tid = b.id or f"toolu_fake_{next(self.server_ref._ids)}"
                content.append(
                    {"type": "tool_use", "id": tid, "name": b.name, "input": dict(b.input)}
                )
        return {
            "id": msg_id,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": content,
            "stop_reason": reply.stop_reason,
            "stop_sequence": None,
            "usage": {**usage_in, "output_tokens": _output_tokens(reply)},
        }

    def _hostile(self, req: RecordedRequest, reply: Reply) -> None:
        srv = self.server_ref
        if reply.kind == "raw":
            data = reply.message.encode("latin-1")
            self.send_response(reply.status)
            self.send_header("content-type", reply.error_type)
            self.send_header("content-length", str(len(data)))
            for k, v in reply.headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
            return
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("connection", "close")
        if reply.kind == "bomb":
            self.send_header("content-encoding", "gzip")
        self.end_headers()
        self.close_connection = True
        req.stream_started_at = time.monotonic()
        if reply.kind == "sse_raw":
            self.wfile.write(reply.message.encode())
            self.wfile.flush()
            return
        if reply.kind == "bomb":
            # One `data:` line of zeros, never ended: compressed ~1000:1, streamed as made.
            comp = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
            self.wfile.write(comp.compress(b"event: ping\ndata: "))
            block = b"0" * (1 << 20)
            for _ in range(reply.status):
                if srv._closing.is_set() or self._client_gone():
                    req.disconnected = True
                    return
                self.wfile.write(comp.compress(block) + comp.flush(zlib.Z_SYNC_FLUSH))
            self.wfile.write(comp.flush())
            self.wfile.flush()
            return
        start = {"type": "message_start", "message": {
            "id": "msg_hostile", "type": "message", "role": "assistant", "content": [],
            "model": srv.model, "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": 1, "output_tokens": 1}}}
        head = f"event: message_start\ndata: {_json(start)}\n\n".encode()
        if reply.kind == "pings":
            self.wfile.write(head)
            while srv._sleep(reply.chunk_delay) and not self._client_gone():
                self.wfile.write(b'event: ping\ndata: {"type": "ping"}\n\n')
                self.wfile.flush()
            req.disconnected = True
            return
        for i in itertools.count():  # drip: one byte at a time, the ping never completes
            byte = head[i : i + 1] or b" "
            self.wfile.write(byte)
            self.wfile.flush()
            if not srv._sleep(reply.chunk_delay) or self._client_gone():
                req.disconnected = True
                return

    def _stream(
        self,
        req: RecordedRequest,
        reply: Reply,
        msg_id: str,
        model: str,
        usage_in: dict[str, int],
        body: Mapping[str, Any],
    ) -> None:
        srv = self.server_ref
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("connection", "close")
        self.send_header("request-id", f"req_fake_{next(srv._ids)}")
        self.end_headers()
        self.close_connection = True
        req.stream_started_at = time.monotonic()
        # The cache entry becomes readable once the writing response has begun streaming.
        srv._mark_cached(body)
        for event, data in self._events(reply, msg_id, model, usage_in):
            if not srv._sleep(reply.chunk_delay):
                return
            if self._client_gone():
                req.disconnected = True
                return
            if event is None:  # a disconnect: half an event, then a TCP reset
                self.wfile.write(b'event: content_block_delta\ndata: {"type":"content_')
                self.wfile.flush()
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                self.connection.close()
                req.disconnected = True
                return
            self.wfile.write(f"event: {event}\ndata: {_json(data)}\n\n".encode())
            self.wfile.flush()

    def _events(
        self, reply: Reply, msg_id: str, model: str, usage_in: dict[str, int]
    ) -> Iterator[tuple[str | None, dict[str, Any]]]:
        start_usage = {**usage_in, "output_tokens": 1}
        yield (
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": msg_id,
                    "type": "message",
                    "role": "assistant",
                    "content": [],
                    "model": model,
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": start_usage,
                },
            },
        )
        for index, block in enumerate(reply.blocks):
            if isinstance(block, TextBlock):
                yield (
                    "content_block_start",
                    {
                        "type": "content_block_start",
                        "index": index,
                        "content_block": {"type": "text", "text": ""},
                    },
                )
                if index == 0:
                    yield "ping", {"type": "ping"}
                for chunk in block.chunks:
                    yield (
                        "content_block_delta",
                        {
                            "type": "content_block_delta",
                            "index": index,
                            "delta": {"type": "text_delta", "text": chunk},
                        },
                    )
            else:
                tid = block.id or f"toolu_fake_{next(self.server_ref._ids)}"
                yield (
                    "content_block_start",
                    {
                        "type": "content_block_start",
                        "index": index,
                        "content_block": {
                            "type": "tool_use",
                            "id": tid,
                            "name": block.name,
                            "input": {},
                        },
                    },
                )
                for part in _split(_json(block.input), block.parts):
                    yield (
                        "content_block_delta",
                        {
                            "type": "content_block_delta",
                            "index": index,
                            "delta": {"type": "input_json_delta", "partial_json": part},
                        },
                    )
            if reply.kind == "turn":
                yield "content_block_stop", {"type": "content_block_stop", "index": index}
        if reply.kind == "mid_stream_error":
            yield (
                "error",
                {"type": "error", "error": {"type": reply.error_type, "message": reply.message}},
            )
            return
        if reply.kind == "disconnect":
            yield None, {}
            return
        yield (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": reply.stop_reason, "stop_sequence": None},
                "usage": {"output_tokens": _output_tokens(reply)},
            },
        )
        yield "message_stop", {"type": "message_stop"}
