"""One model turn of a `claude` agent: stream it, show it, count it, retry it.

Retries are ours, not the SDK's (the client has `max_retries=0`), so every retry is a
visible `retry` event with its reason and delay. Retried: 408, 409, 429 (honouring
`retry-after-ms` / `retry-after`), 5xx and 529, timeouts, connection errors, and a
mid-stream `error` event (which the SDK raises as `APIStatusError` with status 200 and
never retries). Any other 4xx (400, 401, 403, 404, 413...) fails the agent at once.

Text never repeats: a retried turn's text is compared with what the failed attempt already
delivered, and only what goes beyond it reaches the panel. Tokens a failed attempt spent
(its `message_start` usage and the output streamed so far) are recorded as `partial` usage.

Pause: the stream is read one event at a time with `ctx.checkpoint()` after each, so a
paused agent simply stops reading. The HTTP response stays open and unread (the server's
writes wait in the socket buffers); resuming reads on from the same place, so nothing is
lost or repeated. If the connection dies during a long pause, the turn is retried like any
connection error, deduplicated as above.
"""

from __future__ import annotations

import email.utils
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anthropic
import anyio
import httpx2

from oneie_tui.agents.base import AgentContext, AgentFailure, Usage
from oneie_tui.agents.claude.guarded_http import ServerFault, describe
from oneie_tui.agents.pricing import PriceTable
from oneie_tui.events import EventType
from oneie_tui.spec.options.claude import ClaudeOptions
from oneie_tui.trust.redact import redact

MAX_PARTIAL_LINE = 400
RETRY_STATUSES = frozenset({408, 409, 429})
HINTS = {
    401: " (check ANTHROPIC_API_KEY)",
    403: " (the key may lack access to this model or workspace)",
    404: " (check the model name and --base-url)",
}


class PanelText:
    """Turns text deltas into panel lines: one `agent_output` per line, not per token.
    A partial line is held until its newline, a flush, or MAX_PARTIAL_LINE characters."""

    def __init__(self, ctx: AgentContext) -> None:
        self.ctx = ctx
        self.buf = ""

    def write(self, text: str) -> None:
        self.buf += text
        while "\n" in self.buf:
            line, self.buf = self.buf.split("\n", 1)
            self.ctx.output(redact(line))
        if len(self.buf) >= MAX_PARTIAL_LINE:
            self.flush()

    def flush(self) -> None:
        if self.buf:
            self.ctx.output(redact(self.buf))
            self.buf = ""


class TurnText:
    """The text of one turn across its attempts: a retried attempt's text is passed on only
    beyond what earlier attempts already delivered."""

    def __init__(self, panel: PanelText) -> None:
        self.panel = panel
        self.seen = ""
        self.attempt = ""
        self.diverged = False

    def new_attempt(self) -> None:
        self.attempt = ""
        self.diverged = False

    def feed(self, delta: str) -> None:
        self.attempt += delta
        if self.diverged:
            self.panel.write(delta)
            return
        if self.seen.startswith(self.attempt):
            return  # replaying what the panel already has
        if self.attempt.startswith(self.seen):
            self.panel.write(self.attempt[len(self.seen) :])
            self.seen = self.attempt
            return
        # The retry said something else: say so rather than splice two replies together.
        self.diverged = True
        self.panel.flush()
        self.panel.ctx.output("↻ the retried turn answered differently:")
        self.panel.write(self.attempt)
        self.seen = ""


class Retry(Exception):
    def __init__(
        self, reason: str, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after


def _error_detail(exc: anthropic.APIStatusError) -> tuple[str, str]:
    body: Any = exc.body
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        body = body["error"]
    if isinstance(body, dict):
        return str(body.get("type", "")), str(body.get("message", ""))
    return "", str(exc.message)


def retry_after(headers: Any) -> float | None:
    """Seconds from `retry-after-ms` or `retry-after` (seconds or an HTTP date)."""
    if headers is None:
        return None
    try:
        return max(0.0, float(headers.get("retry-after-ms")) / 1000.0)
    except (TypeError, ValueError):
        pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_tz(value)
        if parsed is None:
            return None
        return max(0.0, email.utils.mktime_tz(parsed) - time.time())


def classify(exc: BaseException) -> Retry | None:
    """A `Retry` for API faults worth retrying, `AgentFailure` raised for other API errors,
    None for exceptions that are not API faults (the caller re-raises them)."""
    # The server answered like no Anthropic API (the SDK wraps what the transport raises
    # in APIConnectionError): one line, not retried.
    fault = exc if isinstance(exc, ServerFault) else exc.__cause__
    if isinstance(fault, ServerFault):
        raise AgentFailure(redact(str(fault))[:300]) from None
    if isinstance(exc, anthropic.APIStatusError):
        status = exc.status_code
        kind, message = _error_detail(exc)
        what = redact(f"{kind}: {message}" if kind else message)[:200]
        if status == 200:
            return Retry(f"mid-stream error ({what})", status)
        if status in RETRY_STATUSES or status >= 500:
            return Retry(f"{status} {what}", status, retry_after(exc.response.headers))
        where = describe(exc.response, str(exc.request.url.copy_with(path="/", query=None))) \
            if getattr(exc, "request", None) is not None else ""
        raise AgentFailure(
            f"Anthropic API refused the request: {status} {what}{HINTS.get(status, '')}"
            + (f" [{redact(where)}]" if where else "")
        )
    if isinstance(exc, anthropic.APITimeoutError | httpx2.TimeoutException):
        return Retry("timed out")
    if isinstance(exc, anthropic.APIConnectionError | httpx2.TransportError):
        cause = str(exc.__cause__ or exc) or type(exc.__cause__ or exc).__name__
        return Retry(f"connection error ({redact(cause)[:120]})")
    return None


@dataclass
class TurnResult:
    message: Any  # anthropic ParsedMessage
    usage: Usage


UsageHook = Callable[[Usage, bool], None]  # (usage, check_budget)


class TurnRunner:
    """Runs turns for one agent. `on_stream_started` fires at each response's
    `message_start` (the cache warm-up uses it); `on_usage` sees every recorded usage."""

    def __init__(
        self,
        ctx: AgentContext,
        client: anthropic.AsyncAnthropic,
        model: str,
        options: ClaudeOptions,
        prices: PriceTable,
        on_stream_started: Callable[[], None],
        on_usage: UsageHook,
    ) -> None:
        self.ctx = ctx
        self.client = client
        self.model = model
        self.options = options
        self.prices = prices
        self.on_stream_started = on_stream_started
        self.on_usage = on_usage
        self.panel = PanelText(ctx)
        self._warned_price = False

    async def run(self, request: dict[str, Any], turn: int) -> TurnResult:
        text = TurnText(self.panel)
        attempt = 0
        while True:
            attempt += 1
            await self.ctx.checkpoint()
            text.new_attempt()
            try:
                return await self._attempt(request, turn, attempt, text)
            except AgentFailure:
                self.panel.flush()
                raise
            except Exception as exc:
                retry = classify(exc)
                if retry is None:
                    raise
                if attempt > self.options.max_retries:
                    self.panel.flush()
                    raise AgentFailure(
                        f"gave up after {self.options.max_retries} retries: {retry.reason}"
                    ) from None
                delay = self._delay(attempt, retry)
                self.ctx.event(
                    EventType.RETRY,
                    turn=turn,
                    attempt=attempt,
                    max_retries=self.options.max_retries,
                    reason=retry.reason,
                    status=retry.status,
                    delay_s=round(delay, 3),
                    **(
                        {"retry_after_s": retry.retry_after}
                        if retry.retry_after is not None
                        else {}
                    ),
                )
                self.ctx.output(
                    f"↻ retry {attempt}/{self.options.max_retries} in {delay:.1f}s: {retry.reason}"
                )
                await anyio.sleep(delay)

    def _delay(self, attempt: int, retry: Retry) -> float:
        cap = self.options.retry_max_delay
        if retry.retry_after is not None:
            return min(retry.retry_after, cap)
        base = self.options.retry_base_delay * 2.0 ** (attempt - 1)
        return min(base * (1.0 - 0.25 * random.random()), cap)

    async def _attempt(
        self, request: dict[str, Any], turn: int, attempt: int, text: TurnText
    ) -> TurnResult:
        stream: Any = None
        started = False
        tool_chars = 0
        try:
            async with self.client.messages.stream(
                **request, timeout=self.options.request_timeout
            ) as stream:
                self._expect_event_stream(stream.response)
                async for event in stream:
                    if event.type == "message_start":
                        started = True
                        self.on_stream_started()
                    elif event.type == "text":
                        text.feed(event.text)
                    elif event.type == "input_json":
                        tool_chars += len(event.partial_json)
                    elif event.type == "content_block_stop" and event.content_block.type == "text":
                        self.panel.flush()
                    await self.ctx.checkpoint()  # pause here: the stream stays open, unread
                message = await stream.get_final_message()
        except (ValueError, AssertionError) as exc:  # invalid event JSON; a stream with no message
            if started:
                self._record(stream, turn, attempt, text, tool_chars, partial=True, check=False)
            what = "an event that is not valid JSON" if isinstance(exc, ValueError) \
                else "a stream that ended without a message"
            raise AgentFailure(f"the server sent {what} ({self._where(stream)})") from None
        except anyio.get_cancelled_exc_class():
            # Cancelled: keep the partial text and the tokens spent. Sync calls only.
            self.panel.flush()
            if started:
                self._record(stream, turn, attempt, text, tool_chars, partial=True, check=False)
            raise
        except Exception:
            if started:
                self._record(stream, turn, attempt, text, tool_chars, partial=True, check=True)
            raise
        self.panel.flush()
        usage = self._usage(message.usage, turn, attempt, partial=False)
        return TurnResult(message=message, usage=usage)

    def _where(self, stream: Any) -> str:
        response = getattr(stream, "response", None) if stream is not None else None
        return describe(response, str(self.client.base_url).rstrip("/"))

    def _expect_event_stream(self, response: Any) -> None:
        """A 200 that is not `text/event-stream` (an HTML login page, a plain JSON body
        from a proxy) is one clear line, never a decoder message or an AssertionError."""
        ctype = str(response.headers.get("content-type", "")).split(";")[0].strip().lower()
        if ctype != "text/event-stream":
            raise AgentFailure(
                f"the server did not answer with an event stream ({self._where_response(response)}); "
                "check --base-url / ANTHROPIC_BASE_URL"
            )

    def _where_response(self, response: Any) -> str:
        return describe(response, str(self.client.base_url).rstrip("/"))

    def _record(
        self,
        stream: Any,
        turn: int,
        attempt: int,
        text: TurnText,
        tool_chars: int,
        *,
        partial: bool,
        check: bool,
    ) -> None:
        try:
            snapshot = stream.current_message_snapshot if stream is not None else None
        except AssertionError:  # the SDK asserts when no message_start has arrived
            snapshot = None
        if snapshot is None:
            return
        # Without a message_delta the output count is message_start's placeholder: estimate.
        estimate = math.ceil((len(text.attempt) + tool_chars) / 4)
        snapshot.usage.output_tokens = max(snapshot.usage.output_tokens or 0, estimate)
        self._usage(snapshot.usage, turn, attempt, partial=partial, check=check)

    def _usage(
        self, raw: Any, turn: int, attempt: int, *, partial: bool, check: bool = True
    ) -> Usage:
        usage = Usage(
            input_tokens=int(raw.input_tokens or 0),
            output_tokens=int(raw.output_tokens or 0),
            cache_write_tokens=int(raw.cache_creation_input_tokens or 0),
            cache_read_tokens=int(raw.cache_read_input_tokens or 0),
        )
        price = self.prices.lookup(self.model)
        uncached = 0.0
        if price is not None:
            usage.cost_usd = price.cost(usage)
            uncached = price.uncached_cost(usage)
        elif not self._warned_price:
            self._warned_price = True
            self.ctx.output(
                f"no price for model {self.model!r}: cost counted as $0 (add it under [prices] in the config)"
            )
        extra: dict[str, Any] = {
            "model": self.model,
            "turn": turn,
            "attempt": attempt,
            "uncached_cost_usd": round(uncached, 8),
            "priced": price is not None,
        }
        if partial:
            extra["partial"] = True
        self.ctx.usage(usage, **extra)
        self.on_usage(usage, check)
        return usage
