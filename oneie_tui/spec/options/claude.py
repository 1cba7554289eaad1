"""Options of the `claude` backend (Anthropic Messages API). Spec key: `claude = {...}`."""

from __future__ import annotations

from pydantic import Field

from oneie_tui.spec.base import StrictTyped


class ClaudeOptions(StrictTyped):
    max_turns: int = Field(default=20, ge=1, le=500, description="model turns in the tool loop")
    max_tokens: int = Field(default=4096, ge=1, le=128_000, description="per response")
    warmup: bool = Field(
        default=True,
        description="cache warm-up: wait for the first agent's stream to start before the "
        "first request, so the shared context is read from the prompt cache",
    )
    cache: bool = Field(
        default=True, description="mark the shared context block with cache_control"
    )
    max_retries: int = Field(
        default=4,
        ge=0,
        le=20,
        description="retries of one request (429, 529, 5xx, timeouts, connection errors)",
    )
    request_timeout: float = Field(
        default=600.0,
        gt=0.0,
        le=3600.0,
        description="seconds without data before a request times out",
    )
    stream_deadline: float = Field(
        default=1800.0,
        gt=0.0,
        le=86_400.0,
        description="seconds one streamed response may take in all (pings forever or a "
        "byte a second end with a clear error, not a hang)",
    )
    retry_base_delay: float = Field(
        default=0.5, ge=0.0, le=60.0, description="first backoff, seconds; doubles each retry"
    )
    retry_max_delay: float = Field(
        default=60.0,
        gt=0.0,
        le=600.0,
        description="cap on one backoff or retry-after wait, seconds",
    )
