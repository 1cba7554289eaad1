"""The HTTP layer under the Anthropic client, treating the server as untrusted.

`GuardedTransport` wraps the real transport. For every response it:
- refuses a redirect (the SDK would follow it, sending the key along): `ServerFault`;
- decodes gzip/deflate itself, in bounded pieces, and caps a decoded SSE event (the bytes
  between two blank lines) at `max_event_bytes`, so a gzip bomb or an endless line stops
  at the cap instead of inflating to gigabytes in the SDK's line buffer;
- yields to the event loop after every piece, so a cancel (Ctrl-C) acts at once even
  while a flood is being read;
- ends a response that is still streaming after `deadline` seconds (pings forever, one
  byte a second): `ServerFault` naming the base URL.

`ServerFault` is never retried: a server that answers like this will do it again.
"""

from __future__ import annotations

import re
import time
import zlib
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx2

MAX_EVENT_BYTES = 8 * 1024 * 1024  # a real event (one delta) is a few KiB
PIECE = 64 * 1024  # decoded bytes per step: bounded memory, a cancellation point each
_EVENT_END = re.compile(rb"\r\n\r\n|\n\n|\r\r")


class ServerFault(Exception):
    """The server answered something no Anthropic API sends. One line for the user."""


def describe(response: httpx2.Response | None, base_url: str) -> str:
    """`status content-type from BASE_URL`, for one-line messages."""
    if response is None:
        return f"from {base_url}"
    ctype = response.headers.get("content-type", "no content type").split(";")[0].strip()
    return f"{response.status_code} {ctype or 'no content type'} from {base_url}"


class GuardedTransport(httpx2.AsyncBaseTransport):
    def __init__(
        self,
        inner: httpx2.AsyncBaseTransport,
        base_url: str,
        *,
        max_event_bytes: int = MAX_EVENT_BYTES,
        deadline: float | None = None,
    ) -> None:
        self.inner = inner
        self.base_url = base_url
        self.max_event_bytes = max_event_bytes
        self.deadline = deadline

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        request.headers["accept-encoding"] = "gzip, deflate"  # only what we decode ourselves
        started = time.monotonic()
        response = await self.inner.handle_async_request(request)
        if 300 <= response.status_code < 400:
            await response.aclose()
            where = response.headers.get("location", "?")
            raise ServerFault(
                f"the server answered {response.status_code} redirect to {where!r} "
                f"({describe(response, self.base_url)}); not followed: check --base-url"
            )
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("", "identity", "gzip", "x-gzip", "deflate"):
            await response.aclose()
            raise ServerFault(f"the server sent content-encoding {encoding!r} ({describe(response, self.base_url)})")
        headers = [
            (k, v) for k, v in response.headers.raw if k.lower() not in (b"content-encoding", b"content-length")
        ]
        stream = _BoundedStream(response, encoding, self, started)
        return httpx2.Response(
            response.status_code, headers=headers, stream=stream, request=request,
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self.inner.aclose()


class _BoundedStream(httpx2.AsyncByteStream):
    def __init__(self, raw: httpx2.Response, encoding: str, guard: GuardedTransport, started: float) -> None:
        self.raw = raw
        self.guard = guard
        self.started = started
        self.decoder = None
        if encoding in ("gzip", "x-gzip"):
            self.decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self.decoder = zlib.decompressobj()
        self.pending = 0  # decoded bytes since the last event boundary

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.raw.aiter_raw():
            for piece in self._decode(chunk):
                yield piece
                await anyio.lowlevel.checkpoint()  # a cancel acts here, even in a flood
            self._check(b"")  # the deadline, at every chunk (pings, a slow drip)

    def _decode(self, chunk: bytes) -> list[bytes]:
        """The decoded pieces of `chunk`, each checked before the next is made."""
        if self.decoder is None:
            pieces = [chunk[i : i + PIECE] for i in range(0, len(chunk), PIECE)]
            for piece in pieces:
                self._check(piece)
            return pieces
        out: list[bytes] = []
        data = chunk
        while data:
            try:
                piece = self.decoder.decompress(data, PIECE)
            except zlib.error as exc:
                raise ServerFault(f"the server sent a broken compressed body ({exc}) from {self.guard.base_url}") from None
            data = self.decoder.unconsumed_tail
            out.append(piece)
            self._check(piece)  # before the next piece is inflated
        return out

    def _check(self, piece: bytes) -> None:
        if piece:
            ends = list(_EVENT_END.finditer(piece))
            self.pending = len(piece) - ends[-1].end() if ends else self.pending + len(piece)
            if self.pending > self.guard.max_event_bytes:
                raise ServerFault(
                    f"the server sent an event larger than {self.guard.max_event_bytes // 1024} KiB "
                    f"decoded ({describe(self.raw, self.guard.base_url)}); stopped reading"
                )
        deadline = self.guard.deadline
        if deadline is not None and time.monotonic() - self.started > deadline:
            raise ServerFault(
                f"the response did not end within {deadline:g}s ({describe(self.raw, self.guard.base_url)}); "
                "a stream that never finishes is cut off"
            )

    async def aclose(self) -> None:
        await self.raw.aclose()


def guarded_client(anthropic: Any, key: str, base_url: str | None, deadline: float) -> Any:
    """An `AsyncAnthropic` client over a `GuardedTransport` (our retries: `max_retries=0`)."""
    shown = base_url or "https://api.anthropic.com"
    transport = GuardedTransport(httpx2.AsyncHTTPTransport(), shown, deadline=deadline)
    http = anthropic.DefaultAsyncHttpxClient(transport=transport, follow_redirects=False)
    return anthropic.AsyncAnthropic(api_key=key, base_url=base_url, max_retries=0, http_client=http)
