"""Options of the `claude` backend (Anthropic Messages API). Spec key: `claude = {...}`."""

from __future__ import annotations

from pydantic import Field

from oneie_tui.spec_base import Strict


class ClaudeOptions(Strict):
    max_turns: int = Field(default=20, ge=1, le=500)
    max_tokens: int = Field(default=4096, ge=1, le=128_000, description="per response")
