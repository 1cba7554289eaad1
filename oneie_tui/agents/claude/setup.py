"""What every `claude` agent of a run shares, set up once by the backend before the run:
the key, the base URL, the model choice, prices and profiles, the cache warm-up and the run's
spend. The backend (`backend.py`) and each conversation (`conversation.py`) import it."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import anyio

from oneie_tui.agents.base import AgentContext, BackendOptions, Usage, project_dir
from oneie_tui.agents.pricing import PriceTable
from oneie_tui.agents.profiles import Profile, ProfileError, load_agent_profiles
from oneie_tui.events import EventType
from oneie_tui.spec.model import AgentSpec, Spec
from oneie_tui.trust import redact

DEFAULT_MODEL = "claude-sonnet-5-5"
WARMUP_MAX_WAIT = 60.0  # seconds a follower waits for the leader's stream at most
KEY_ENV = "ANTHROPIC_API_KEY"
BASE_URL_ENV = "ANTHROPIC_BASE_URL"


class ClaudeSetupError(Exception):
    """The claude backend cannot run. One line; `session.preflight` shows it."""


def api_key() -> str | None:
    key = os.environ.get(KEY_ENV, "").strip()
    return key or None


def base_url(options: BackendOptions | None) -> str | None:
    url = (options.base_url if options else None) or os.environ.get(BASE_URL_ENV, "").strip() or None
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


def load_profiles(spec: Spec, options: BackendOptions | None) -> dict[str, Profile]:
    try:
        return load_agent_profiles(spec, "claude", project_dir(options))
    except ProfileError as exc:
        raise ClaudeSetupError(str(exc)) from None


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
            ctx.event(EventType.AGENT_INFO, cache_warmup="leader")
            return
        ctx.output(f"waiting for {self.leader}'s first response to warm the prompt cache")
        started = anyio.current_time()
        with anyio.move_on_after(WARMUP_MAX_WAIT):
            await ready.wait()
        ctx.event(
            EventType.AGENT_INFO,
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


@dataclass
class ClaudeShared:
    """The run-wide state the backend hands to each conversation."""

    prices: PriceTable
    profiles: dict[str, Profile] = field(default_factory=dict)
    base_url: str | None = None
    warmup: Warmup = field(default_factory=Warmup)
    run_spend: RunSpend = field(default_factory=lambda: RunSpend(Usage()))
