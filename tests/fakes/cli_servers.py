"""Scripted model servers on 127.0.0.1 for the Codex and Gemini CLIs, for offline tests
with the real clients (see ../shared/reference/cli-probe.md for the wire formats).

* ``ScriptedResponsesServer``: the OpenAI Responses API (``POST /v1/responses``, named SSE
  events) as Codex speaks it.
* ``ScriptedGeminiServer``: the Gemini API (``POST /v1beta/models/M:streamGenerateContent``
  with ``alt=sse``, and ``:generateContent`` for the CLI's side calls).

A script is a list of replies served in order, or a function ``(RecordedRequest) -> Reply |
None`` (``codex_per_agent`` / ``gemini_per_agent`` route by the agent id in the first user
message, like the Anthropic fake). A reply
is ``say(text)`` (the turn ends) or ``shell(command)`` (one shell tool call; the next request
carries its output). When a script runs out the server answers ``default`` (``say("done")``).
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Reply:
    text: str = ""
    command: str | None = None  # a shell tool call instead of text
    status: int = 200  # an HTTP error before any stream when not 200
    input_tokens: int = 100
    output_tokens: int = 20
    cached_tokens: int = 0
    delay: float = 0.0  # seconds before the answer (a slow model)


def say(text: str, **kw: Any) -> Reply:
    return Reply(text=text, **kw)


def shell(command: str, **kw: Any) -> Reply:
    return Reply(command=command, **kw)


def http_error(status: int, message: str = "scripted error") -> Reply:
    return Reply(text=message, status=status)


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    received_at: float = field(default_factory=time.monotonic)

    def text(self) -> str:
        return json.dumps(self.body, ensure_ascii=False) if self.body is not None else ""


Script = Sequence[Reply] | Callable[[RecordedRequest], Reply | None]


class ScriptedServer:
    """The HTTP part both fakes share: a threading server, the script, the record."""

    name = "fake"

    def __init__(self, script: Script | None = None, *, default: Reply | None = None) -> None:
        self._fn: Callable[[RecordedRequest], Reply | None] | None = None
        self._list: list[Reply] = []
        if callable(script):
            self._fn = script
        elif script is not None:
            self._list = list(script)
        self.default = default or say("done")
        self.requests: list[RecordedRequest] = []
        self.script_exhausted = 0
        self._lock = threading.Condition()
        self._ids = itertools.count(1)
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        assert self._httpd is not None
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ScriptedServer:
        handler = type("Handler", (_Handler,), {"server_ref": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def add(self, *replies: Reply) -> None:
        with self._lock:
            self._list.extend(replies)

    def model_requests(self) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if self.is_model_request(r)]

    def wait_for_requests(self, n: int, timeout: float = 30.0) -> list[RecordedRequest]:
        deadline = time.monotonic() + timeout
        with self._lock:
            while len([r for r in self.requests if self.is_model_request(r)]) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"expected {n} model requests, got {len(self.requests)}")
                self._lock.wait(left)
            return [r for r in self.requests if self.is_model_request(r)]

    def next_reply(self, req: RecordedRequest) -> Reply:
        if self._fn is not None:
            found = self._fn(req)
            if found is not None:
                return found
        else:
            with self._lock:
                if self._list:
                    return self._list.pop(0)
        with self._lock:
            self.script_exhausted += 1
        return self.default

    def record(self, req: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(req)
            self._lock.notify_all()

    # what each fake fills in
    def is_model_request(self, req: RecordedRequest) -> bool:
        raise NotImplementedError

    def answer(self, handler: _Handler, req: RecordedRequest) -> None:
        raise NotImplementedError


class _Handler(BaseHTTPRequestHandler):
    server_ref: ScriptedServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _request(self) -> RecordedRequest:
        parts = urlsplit(self.path)
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        headers = {k.lower(): v for k, v in self.headers.items()}
        return RecordedRequest(self.command, parts.path, query, headers, body)

    def do_POST(self) -> None:
        req = self._request()
        self.server_ref.record(req)
        self.server_ref.answer(self, req)

    def do_GET(self) -> None:
        req = self._request()
        self.server_ref.record(req)
        self.send_json(404, {"error": {"message": f"no route {req.path}"}})

    def send_json(self, status: int, obj: Any) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def start_sse(self) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("connection", "close")
        self.end_headers()
        self.close_connection = True

    def sse(self, data: Any, event: str | None = None) -> None:
        chunk = (f"event: {event}\n" if event else "") + f"data: {json.dumps(data)}\n\n"
        self.wfile.write(chunk.encode())
        self.wfile.flush()


# --------------------------------------------------------------------------- Codex


SHELL_TOOLS = ("exec_command", "shell_command", "shell")


class ScriptedResponsesServer(ScriptedServer):
    """The OpenAI Responses API as the Codex CLI speaks it (base URL: ``base_url + "/v1"``)."""

    name = "fake-openai"

    @property
    def api_url(self) -> str:
        return self.base_url + "/v1"

    def is_model_request(self, req: RecordedRequest) -> bool:
        return req.method == "POST" and req.path.endswith("/responses")

    def answer(self, handler: _Handler, req: RecordedRequest) -> None:
        if not self.is_model_request(req):
            handler.send_json(404, {"error": {"message": f"no route {req.path}"}})
            return
        reply = self.next_reply(req)
        if reply.delay:
            time.sleep(reply.delay)
        if reply.status != 200:
            handler.send_json(reply.status, {"error": {"message": reply.text, "type": "server_error"}})
            return
        body = req.body if isinstance(req.body, dict) else {}
        n = next(self._ids)
        resp_id, item_id = f"resp_{n}", f"item_{n}"
        model = str(body.get("model", "gpt-5.5"))
        if reply.command is not None:
            item = self._tool_item(body, reply.command, n)
        else:
            item = {
                "type": "message", "id": item_id, "status": "completed", "role": "assistant",
                "content": [{"type": "output_text", "text": reply.text, "annotations": []}],
            }
        usage = {
            "input_tokens": reply.input_tokens,
            "input_tokens_details": {"cached_tokens": reply.cached_tokens},
            "output_tokens": reply.output_tokens,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": reply.input_tokens + reply.output_tokens,
        }
        base = {"id": resp_id, "object": "response", "created_at": int(time.time()), "model": model}
        handler.start_sse()
        seq = itertools.count()

        def send(kind: str, **data: Any) -> None:
            handler.sse({"type": kind, "sequence_number": next(seq), **data}, event=kind)

        send("response.created", response={**base, "status": "in_progress", "output": []})
        if item["type"] == "message":
            started = {**item, "status": "in_progress", "content": []}
            send("response.output_item.added", output_index=0, item=started)
            part = {"type": "output_text", "text": "", "annotations": []}
            send("response.content_part.added", item_id=item_id, output_index=0, content_index=0, part=part)
            send("response.output_text.delta", item_id=item_id, output_index=0, content_index=0, delta=reply.text)
            send("response.output_text.done", item_id=item_id, output_index=0, content_index=0, text=reply.text)
        else:
            send("response.output_item.added", output_index=0, item={**item, "arguments": ""})
        send("response.output_item.done", output_index=0, item=item)
        send("response.completed", response={**base, "status": "completed", "output": [item], "usage": usage})

    @staticmethod
    def _tool_item(body: Mapping[str, Any], command: str, n: int) -> dict[str, Any]:
        offered = [str(t.get("name", "")) for t in body.get("tools", []) if isinstance(t, dict)]
        name = next((t for t in SHELL_TOOLS if t in offered), "exec_command")
        args: dict[str, Any] = (
            {"cmd": command} if name == "exec_command"
            else {"command": command} if name == "shell_command"
            else {"command": ["bash", "-lc", command]}
        )
        return {
            "type": "function_call", "id": f"fc_{n}", "call_id": f"call_{n}", "name": name,
            "arguments": json.dumps(args), "status": "completed",
        }


def responses_user_text(req: RecordedRequest) -> str:
    """The user messages of a Responses request (Codex sends its environment context first,
    then the prompt with the agent's brief)."""
    body = req.body if isinstance(req.body, dict) else {}
    texts = []
    for item in body.get("input", []):
        if isinstance(item, dict) and item.get("role") == "user":
            content = item.get("content")
            if isinstance(content, list):
                texts += [str(c.get("text", "")) for c in content if isinstance(c, dict)]
            else:
                texts.append(str(content))
    return "\n".join(texts)


def tool_outputs(req: RecordedRequest) -> list[str]:
    """Outputs of earlier tool calls a Responses or Gemini request carries back."""
    body = req.body if isinstance(req.body, dict) else {}
    out = [str(i.get("output", "")) for i in body.get("input", []) if isinstance(i, dict) and i.get("type") == "function_call_output"]
    for content in body.get("contents", []):
        for part in content.get("parts", []) if isinstance(content, dict) else []:
            if isinstance(part, dict) and "functionResponse" in part:
                out.append(json.dumps(part["functionResponse"].get("response", {})))
    return out


# --------------------------------------------------------------------------- Gemini


class ScriptedGeminiServer(ScriptedServer):
    """The Gemini API as the Gemini CLI speaks it (``GOOGLE_GEMINI_BASE_URL = base_url``)."""

    name = "fake-gemini"

    def is_model_request(self, req: RecordedRequest) -> bool:
        return req.method == "POST" and req.path.endswith(":streamGenerateContent")

    def answer(self, handler: _Handler, req: RecordedRequest) -> None:
        body = req.body if isinstance(req.body, dict) else {}
        if req.path.endswith(":generateContent"):  # a side call (router, summaries)
            handler.send_json(200, _side_answer(body))
            return
        if not self.is_model_request(req):
            handler.send_json(404, {"error": {"message": f"no route {req.path}"}})
            return
        reply = self.next_reply(req)
        if reply.delay:
            time.sleep(reply.delay)
        if reply.status != 200:
            handler.send_json(reply.status, {"error": {"code": reply.status, "message": reply.text, "status": "INVALID_ARGUMENT"}})
            return
        if reply.command is not None:
            parts: list[dict[str, Any]] = [{"functionCall": {"name": "run_shell_command", "args": {"command": reply.command, "description": "scripted"}}}]
        else:
            parts = [{"text": reply.text}]
        usage = {
            "promptTokenCount": reply.input_tokens,
            "candidatesTokenCount": reply.output_tokens,
            "totalTokenCount": reply.input_tokens + reply.output_tokens,
            "cachedContentTokenCount": reply.cached_tokens,
        }
        handler.start_sse()
        handler.sse({
            "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}],
            "usageMetadata": usage,
            "modelVersion": req.path.split("/models/")[-1].split(":")[0],
        })


def gemini_user_text(req: RecordedRequest) -> str:
    body = req.body if isinstance(req.body, dict) else {}
    for content in body.get("contents", []):
        if isinstance(content, dict) and content.get("role") == "user":
            return " ".join(str(p.get("text", "")) for p in content.get("parts", []) if isinstance(p, dict))
    return ""


def _side_answer(body: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON side call gets a dummy object built from its schema; others a short text."""
    config = body.get("generationConfig", {}) if isinstance(body, Mapping) else {}
    schema = config.get("responseJsonSchema") or config.get("responseSchema")
    text = json.dumps(_dummy(schema)) if schema else "summary"
    return {
        "candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": 1, "candidatesTokenCount": 1, "totalTokenCount": 2},
    }


def _dummy(schema: Any) -> Any:
    if not isinstance(schema, Mapping):
        return "x"
    kind = str(schema.get("type", "string")).lower()
    if kind == "object":
        return {k: _dummy(v) for k, v in schema.get("properties", {}).items()}
    if kind == "array":
        return [_dummy(schema.get("items"))]
    if kind in ("integer", "number"):
        return 1
    if kind == "boolean":
        return True
    enum = schema.get("enum")
    return enum[0] if enum else "x"


def routed_by_agent(server_user_text: Callable[[RecordedRequest], str]) -> Callable[[Mapping[str, Sequence[Reply]]], Callable[[RecordedRequest], Reply | None]]:
    """``per_agent`` for a given way of reading a request's first user text."""

    def build(scripts: Mapping[str, Sequence[Reply]]) -> Callable[[RecordedRequest], Reply | None]:
        queues = {k: list(v) for k, v in scripts.items()}
        lock = threading.Lock()
        ids = sorted(queues, key=len, reverse=True)

        def answer(req: RecordedRequest) -> Reply | None:
            text = server_user_text(req) or req.text()
            for agent_id in ids:
                if agent_id in text:
                    with lock:
                        queue = queues[agent_id]
                        return queue.pop(0) if queue else None
            return None

        return answer

    return build


codex_per_agent = routed_by_agent(responses_user_text)
gemini_per_agent = routed_by_agent(gemini_user_text)
