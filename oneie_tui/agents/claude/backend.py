"""The `claude` backend: each agent is a Claude conversation over the Anthropic Messages API.

- One backend instance serves every claude agent of a run (`session.build_runner`), so it
  coordinates the cache warm-up and the run budget.
- The key comes from `ANTHROPIC_API_KEY` only; the base URL from `--base-url`
  (`BackendOptions.base_url`) or `ANTHROPIC_BASE_URL`. `preflight` refuses a run with
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

What the agents share is in `setup.py`, the conversation loop in `conversation.py`, one
streamed turn in `turn.py`, the coordination tools in `tools.py`.
"""

from __future__ import annotations

from typing import Any

from oneie_tui.agents.base import (
    AgentBackend,
    AgentContext,
    AgentFailure,
    AgentResult,
    BackendOptions,
)
from oneie_tui.agents.claude.setup import (
    KEY_ENV,
    ClaudeSetupError,
    ClaudeShared,
    api_key,
    base_url,
    claude_agents,
    load_profiles,
)
from oneie_tui.agents.pricing import PriceError, load_prices
from oneie_tui.spec.model import AgentSpec, Spec
from oneie_tui.trust import redact


class ClaudeBackend(AgentBackend):
    name = "claude"
    # Budgets are kept here, at turn boundaries (and max_turns too): the runner leaves them to us.
    enforces_budgets = True

    def __init__(self) -> None:
        self.shared: ClaudeShared | None = None
        # agent id -> its conversation: a follow-up attempt goes on with it.
        self.conversations: dict[str, list[dict[str, Any]]] = {}

    def takes_messages(self, agent: AgentSpec) -> bool:
        return True  # a user turn at the next turn boundary

    @classmethod
    def preflight(cls, spec: Spec, options: BackendOptions) -> None:
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
        load_profiles(spec, options)

    def configure(self, spec: Spec, options: BackendOptions | None) -> None:
        redact.install()
        import anthropic  # noqa: F401  (imported here, before the event loop, not inside it)

        try:
            url = base_url(options)
            prices = load_prices()
        except PriceError as exc:
            raise ClaudeSetupError(str(exc)) from None
        self.shared = ClaudeShared(prices, load_profiles(spec, options), url)

    async def run(self, ctx: AgentContext) -> AgentResult:
        if self.shared is None:  # not built through session.build_runner
            try:
                self.configure(ctx.spec, None)
            except ClaudeSetupError as exc:
                raise AgentFailure(str(exc)) from None
        assert self.shared is not None
        key = api_key()
        if key is None:
            raise AgentFailure(f"{KEY_ENV} is not set")
        from oneie_tui.agents.claude.conversation import ClaudeAgentRun

        conversation = self.conversations.setdefault(ctx.agent_id, [])
        return await ClaudeAgentRun(self.shared, ctx, key, conversation).run()
