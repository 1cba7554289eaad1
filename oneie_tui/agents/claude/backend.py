"""The `claude` backend: each agent is a Claude conversation over the Anthropic Messages API.

- One backend instance serves every claude agent of a run (`session.build_runner`), so it
  coordinates the cache warm-up and the run budget.
- The key comes from `ANTHROPIC_API_KEY` only; the base URL from `--base-url`
  (`RunOptions.extra["base_url"]`) or `ANTHROPIC_BASE_URL`. `preflight` refuses a run with
  no key, a bad base URL, a bad price table or an unusable profile before any agent starts.
- System prompt: the shared context (byte-identical for every agent, `cache_control`
  ephemeral) first, then the agent's brief (role prompt from its profile, task, events).
- Cache warm-up (on by default, `claude = { warmup = false }` per agent turns it off): the
  first agent's first request goes out alone; the others send theirs the moment its
  response has started streaming, so they read the cache instead of all writing it.
- Budgets (`budget` per agent, `[run.budget]` for the run): checked after every response
  (and before every turn). An agent crossing its budget emits `budget_exceeded` and is
  *cancelled* (not failed) with the reason `budget_exceeded: ...`, so `on_failure` does not
  cascade; a run budget cancels the whole run with that reason. The run budget counts the
  spend of the run's claude agents.

The conversation loop is in `claude_agent.py`, one streamed turn in `claude_turn.py`, the
coordination tools in `claude_tools.py`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import anyio

from oneie_tui import redact
from oneie_tui.agents.base import AgentContext, AgentFailure, AgentResult, Usage, project_dir
from oneie_tui.agents.pricing import PriceError, PriceTable, load_prices
from oneie_tui.agents.profiles import Profile, ProfileError, load_agent_profiles
from oneie_tui.spec.model import AgentSpec, Spec

DEFAULT_MODEL = "claude-sonnet-5-5"
WARMUP_MAX_WAIT = 60.0  # seconds a follower waits for the leader's stream at most
KEY_ENV = "ANTHROPIC_API_KEY"
BASE_URL_ENV = "ANTHROPIC_BASE_URL"


class ClaudeSetupError(Exception):
    """The claude backend cannot run. One line; `session.preflight` shows it."""


def api_key() -> str | None:
    key = os.environ.get(KEY_ENV, "").strip()
    return key or None


def base_url(options: Any) -> str | None:
    extra = getattr(options, "extra", None) or {}
    url = extra.get("base_url") or os.environ.get(BASE_URL_ENV, "").strip() or None
    if url is None:
        return None
    parts = urlsplit(str(url))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ClaudeSetupError(
            f"base URL {redact.redact(str(url))!r}: expected http(s)://host[:port][/path]"
        )
    return str(url).rstrip("/")


def claude_agents(spec: Spec) -> list[AgentSpec]:
    return [a for a in spec.agents if spec.backend_of(a) == "claude"]


def _load_profiles(spec: Spec, options: Any) -> dict[str, Profile]:
    try:
        return load_agent_profiles(spec, "claude", project_dir(options))
    except ProfileError as exc:
        raise ClaudeSetupError(str(exc)) from None


def preflight(spec: Spec, options: Any) -> None:
    """Refuse before any agent starts: no key, bad base URL, bad prices or profiles."""
    if not claude_agents(spec):
        return
    redact.install()
    if api_key() is None:
        raise ClaudeSetupError(
            f"{KEY_ENV} is not set: the claude backend needs an Anthropic API key "
            f"(export {KEY_ENV}=...), or run with --backend sim"
        )
    base_url(options)
    try:
        load_prices()
    except PriceError as exc:
        raise ClaudeSetupError(str(exc)) from None
    _load_profiles(spec, options)


def resolve_model(spec: Spec, agent: AgentSpec, profile: Profile | None, prices: PriceTable) -> str:
    """The agent's `model`, else its profile's (unless `inherit`), else `[run] model`, else
    the default Sonnet. Family aliases (`sonnet`) map through the price table."""
    from_profile = profile.chosen_model if profile else None
    return prices.resolve(agent.model or from_profile or spec.run.model or DEFAULT_MODEL)


class Warmup:
    """The first request goes out alone; the rest wait until its stream has started."""

    def __init__(self) -> None:
        self.leader: str | None = None
        self._ready: anyio.Event | None = None

    def _event(self) -> anyio.Event:
        if self._ready is None:
            self._ready = anyio.Event()
        return self._ready

    @property
    def done(self) -> bool:
        return self._ready is not None and self._ready.is_set()

    async def before_first_request(self, ctx: AgentContext, enabled: bool) -> None:
        if not enabled or self.done:
            return
        ready = self._event()
        if self.leader is None:
            self.leader = ctx.agent_id
            ctx.event("agent_info", cache_warmup="leader")
            return
        ctx.output(f"waiting for {self.leader}'s first response to warm the prompt cache")
        started = anyio.current_time()
        with anyio.move_on_after(WARMUP_MAX_WAIT):
            await ready.wait()
        ctx.event(
            "agent_info",
            cache_warmup="follower",
            leader=self.leader,
            waited_s=round(anyio.current_time() - started, 3),
        )

    def release(self) -> None:
        """The leader's stream started, or the leader ended without one."""
        self._event().set()


@dataclass
class RunSpend:
    usage: Usage
    turns: int = 0
    exceeded: bool = False


class ClaudeBackend:
    name = "claude"
    # Budgets are kept here, at turn boundaries (and max_turns too): the runner leaves them to us.
    enforces_budgets = True

    def __init__(self) -> None:
        self.prices: PriceTable | None = None
        self.profiles: dict[str, Profile] = {}
        self.base_url: str | None = None
        self.warmup = Warmup()
        self.run_spend = RunSpend(Usage())

    def configure(self, spec: Spec, options: Any) -> None:
        redact.install()
        import anthropic  # noqa: F401  (imported here, before the event loop, not inside it)

        try:
            self.base_url = base_url(options)
            self.prices = load_prices()
        except PriceError as exc:
            raise ClaudeSetupError(str(exc)) from None
        self.profiles = _load_profiles(spec, options)

    async def run(self, ctx: AgentContext) -> AgentResult:
        if self.prices is None:  # not built through session.build_runner
            try:
                self.configure(ctx.spec, None)
            except ClaudeSetupError as exc:
                raise AgentFailure(str(exc)) from None
        key = api_key()
        if key is None:
            raise AgentFailure(f"{KEY_ENV} is not set")
        from oneie_tui.agents.claude.conversation import ClaudeAgentRun

        return await ClaudeAgentRun(self, ctx, key).run()
