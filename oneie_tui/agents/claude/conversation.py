"""One `claude` agent's conversation: the system prompt, the tool loop, budgets, the end.

Ending: `finish(status="success")` or a reply without tool calls completes the agent
(a first `finish` before the agent emitted its declared `emits` is answered with a reminder);
`finish(status="failed")` fails it; `max_turns` turns without an end fail it; a budget
crossed cancels it (see `backend.py`). Whatever the end, an `agent_info` event records the
model, turns and cache figures, and the HTTP client is closed.
"""

from __future__ import annotations

from typing import Any

import anthropic
import anyio

from oneie_tui.agents.attention import asks_question
from oneie_tui.agents.base import AgentContext, AgentFailure, AgentResult, Usage
from oneie_tui.agents.budget import BudgetExceeded, check_budget
from oneie_tui.agents.claude.guarded_http import guarded_client
from oneie_tui.agents.claude.setup import ClaudeShared, resolve_model
from oneie_tui.agents.claude.tools import TOOL_GUIDE, TOOLS, run_tool
from oneie_tui.agents.claude.turn import TurnRunner
from oneie_tui.agents.pricing import CacheSavings
from oneie_tui.events import EventType
from oneie_tui.spec.shared_context import render_agent_brief, render_shared_context
from oneie_tui.trust.redact import redact

SUMMARY_CHARS = 300


def first_prompt(agent_id: str) -> str:
    return f"{agent_id}: start your task now. Use your tools to coordinate, and call finish when you are done."


def user_says(text: str, followup: bool = False) -> str:
    """How a message from the user reads in the conversation."""
    if followup:
        return f"The user follows up on your finished task:\n{text}\n\nContinue with this, and call finish when you are done."
    return f"A message from the user, sent while you work:\n{text}"


def add_user_text(messages: list[dict[str, Any]], texts: list[str]) -> None:
    """Put `texts` into the conversation as the user's words at its next turn: into the
    last user message (tool results, the first prompt), or as a new one after the model's
    last reply, whose tool calls that were never answered are answered as done (the API
    refuses a tool_use without its result)."""
    blocks = [{"type": "text", "text": t} for t in texts]
    last = messages[-1] if messages else None
    if last is None:
        messages.append({"role": "user", "content": blocks})
    elif last["role"] == "user":
        if isinstance(last["content"], str):
            last["content"] = [{"type": "text", "text": last["content"]}]
        last["content"].extend(blocks)
    else:
        content = last["content"] if isinstance(last["content"], list) else []
        answered = [
            {"type": "tool_result", "tool_use_id": b["id"], "content": "done"}
            for b in content if isinstance(b, dict) and b.get("type") == "tool_use"
        ]
        messages.append({"role": "user", "content": [*answered, *blocks]})


def block_param(block: Any) -> dict[str, Any] | None:
    """A response content block as it goes back in the next request (None: leave out)."""
    if block.type == "text":
        return {"type": "text", "text": block.text} if block.text else None
    if block.type == "tool_use":
        return {"type": "tool_use", "id": block.id, "name": block.name, "input": block.input}
    if block.type == "thinking":
        return {"type": "thinking", "thinking": block.thinking, "signature": block.signature}
    if block.type == "redacted_thinking":
        return {"type": "redacted_thinking", "data": block.data}
    dumped: dict[str, Any] = block.model_dump(exclude_none=True)
    return dumped


def move_cache_breakpoint(messages: list[dict[str, Any]]) -> None:
    """Mark the newest message as the end of the cached prefix (and unmark older ones), so
    each turn reads the conversation so far from the cache: 2 breakpoints in all, of 4."""
    for message in messages:
        if isinstance(message["content"], list):
            for block in message["content"]:
                block.pop("cache_control", None)
    last = messages[-1]
    if isinstance(last["content"], str):
        last["content"] = [{"type": "text", "text": last["content"]}]
    if last["content"]:
        last["content"][-1]["cache_control"] = {"type": "ephemeral"}


class ClaudeAgentRun:
    def __init__(
        self, shared: ClaudeShared, ctx: AgentContext, key: str,
        conversation: list[dict[str, Any]] | None = None,
    ) -> None:
        # The agent's conversation so far (kept by the backend across attempts): a
        # follow-up attempt continues it with the user's message as a new user turn.
        self.conversation = conversation if conversation is not None else []
        self.shared = shared
        self.ctx = ctx
        self.key = key
        self.agent = ctx.agent
        self.options = ctx.agent.claude
        self.prices = shared.prices
        self.profile = shared.profiles.get(ctx.agent.id)
        self.model = resolve_model(ctx.spec, ctx.agent, self.profile, self.prices)
        self.spend = Usage()
        self.savings = CacheSavings()
        self.turns = 0
        self.emitted: set[str] = set()
        self.nudged = False

    # ------------------------------------------------------------------ prompt

    def system(self) -> list[dict[str, Any]]:
        shared: dict[str, Any] = {
            "type": "text",
            "text": self.ctx.shared_context or render_shared_context(self.ctx.spec),
        }
        if self.options.cache:
            shared["cache_control"] = {"type": "ephemeral"}
        role = self.profile.prompt if self.profile else ""
        brief = render_agent_brief(self.agent, role) + "\n\n" + TOOL_GUIDE
        return [shared, {"type": "text", "text": brief}]

    # ------------------------------------------------------------------ the run

    async def run(self) -> AgentResult:
        client = guarded_client(anthropic, self.key, self.shared.base_url, self.options.stream_deadline)
        try:
            return await self._loop(client)
        except BudgetExceeded as exc:
            await self._stop_for_budget(exc)
            raise AgentFailure(exc.reason) from None  # only when the host could not cancel
        except (AgentFailure, anyio.get_cancelled_exc_class()):
            raise
        except Exception as exc:  # one redacted line, never a traceback
            raise AgentFailure(
                redact(f"{type(exc).__name__}: {exc}").splitlines()[0][:300]
            ) from None
        finally:
            if self.shared.warmup.leader == self.agent.id:
                self.shared.warmup.release()  # never leave followers waiting
            self._record_info()
            with anyio.CancelScope(shield=True), anyio.move_on_after(2.0):
                await client.close()

    async def _loop(self, client: anthropic.AsyncAnthropic) -> AgentResult:
        ctx = self.ctx
        messages = self.conversation
        if not (ctx.followup and messages):  # a fresh start (or no conversation to go on)
            messages[:] = [{"role": "user", "content": first_prompt(self.agent.id)}]
        if ctx.followup:
            add_user_text(messages, [user_says(ctx.followup, followup=True)])
        request: dict[str, Any] = {
            "model": self.model,
            "max_tokens": self.options.max_tokens,
            "system": self.system(),
            "tools": TOOLS,
            "messages": messages,
        }
        turner = TurnRunner(
            ctx, client, self.model, self.options, self.prices, self._stream_started, self._on_usage
        )
        ctx.event(
            EventType.AGENT_INFO,
            backend="claude",
            model=self.model,
            **({"profile": str(self.profile.path.name)} if self.profile else {}),
        )
        ctx.progress(0, "started")
        last_text = ""
        for turn in range(1, self.options.max_turns + 1):
            self._check_budgets(starting_turn=True)
            if turn == 1:
                await self.shared.warmup.before_first_request(ctx, self.options.warmup)
            self.turns += 1
            self.shared.run_spend.turns += 1
            self._hear()  # the turn boundary: what the user said meanwhile goes in now
            if self.options.cache:
                move_cache_breakpoint(messages)
            message = (await turner.run(request, turn)).message
            content = [p for p in (block_param(b) for b in message.content) if p is not None]
            text = "".join(b.text for b in message.content if b.type == "text").strip()
            last_text = text or last_text
            tool_uses = [b for b in message.content if b.type == "tool_use"]
            if message.stop_reason == "tool_use" and tool_uses:
                messages.append({"role": "assistant", "content": content})
                results, finish = await self._tools(tool_uses, turn)
                if finish is not None:
                    out = await run_tool(ctx, "finish", finish.input, turn)
                    missing = [e for e in self.agent.emits if e not in self.emitted]
                    if missing and not out.failed and not self.nudged:
                        # Others may be waiting on these: ask once before letting it end.
                        self.nudged = True
                        note = f"not finished: emit {', '.join(missing)} first (other agents wait for it), then call finish again"
                        ctx.output(f"  ↳ {note}")
                        results.append(
                            {
                                "type": "tool_result",
                                "tool_use_id": finish.id,
                                "content": note,
                                "is_error": True,
                            }
                        )
                        messages.append({"role": "user", "content": results})
                        continue
                    if out.failed:
                        raise AgentFailure(out.summary or "the agent reported failure")
                    if ctx.has_messages:  # the user spoke during this last turn: go on
                        messages.append({"role": "user", "content": [*results, {
                            "type": "tool_result", "tool_use_id": finish.id,
                            "content": "not finished yet: the user has more to say"}]})
                        continue
                    ctx.progress(100, "finished")
                    return AgentResult(summary=(out.summary or last_text)[:SUMMARY_CHARS])
                messages.append({"role": "user", "content": results})
                continue
            if message.stop_reason in ("max_tokens", "pause_turn"):
                if content:
                    messages.append({"role": "assistant", "content": content})
                    # A tool call cut off by max_tokens has incomplete input: it is answered
                    # as an error (the API refuses a tool_use without its tool_result).
                    cut = [
                        {
                            "type": "tool_result",
                            "tool_use_id": block["id"],
                            "content": "cut off by max_tokens before its input was complete; call it again",
                            "is_error": True,
                        }
                        for block in content
                        if isinstance(block, dict) and block.get("type") == "tool_use"
                    ]
                    messages.append(
                        {"role": "user", "content": [*cut, {"type": "text", "text": "Continue."}] if cut else "Continue."}
                    )
                continue
            if content:  # kept whole, so a follow-up continues after this reply
                messages.append({"role": "assistant", "content": content})
            if ctx.has_messages:  # the user spoke during this last turn: go on
                continue
            if asks_question(text):  # it stopped to ask: the user is needed
                ctx.attention("question", text=text)
            ctx.progress(100, "done")
            return AgentResult(summary=last_text[:SUMMARY_CHARS])
        raise AgentFailure(f"reached max_turns ({self.options.max_turns}) without calling finish")

    def _hear(self) -> None:
        texts = self.ctx.take_messages()
        if texts:
            add_user_text(self.conversation, [user_says(t) for t in texts])
            for text in texts:
                self.ctx.output(f"  ↳ message from the user: {redact(text).splitlines()[0][:160]}")

    async def _tools(self, tool_uses: list[Any], turn: int) -> tuple[list[dict[str, Any]], Any]:
        """Run every tool call but `finish` (kept for last); their results, in order."""
        results: list[dict[str, Any]] = []
        finish = None
        for block in tool_uses:
            if block.name == "finish":
                finish = block
                continue
            out = await run_tool(self.ctx, block.name, block.input, turn)
            result: dict[str, Any] = {
                "type": "tool_result",
                "tool_use_id": block.id,
                "content": out.content,
            }
            if out.is_error:
                result["is_error"] = True
            elif block.name == "emit_event":
                self.emitted.add(str(block.input.get("action")))
            results.append(result)
            await self.ctx.checkpoint()
        return results, finish

    # ------------------------------------------------------------------ hooks

    def _stream_started(self) -> None:
        if self.shared.warmup.leader == self.agent.id and not self.shared.warmup.done:
            self.shared.warmup.release()

    def _on_usage(self, usage: Usage, check: bool) -> None:
        self.spend.add(usage)
        self.shared.run_spend.usage.add(usage)
        price = self.prices.lookup(self.model)
        self.savings.add_usage_metadata(
            {
                **usage.to_dict(),
                "cost_usd": usage.cost_usd,
                "uncached_cost_usd": price.uncached_cost(usage) if price else usage.cost_usd,
            }
        )
        if check:
            self._check_budgets(starting_turn=False)

    def _check_budgets(self, *, starting_turn: bool) -> None:
        check_budget(
            self.agent.budget, "agent", self.spend, self.turns, starting_turn=starting_turn
        )
        run = self.shared.run_spend
        if not run.exceeded:
            check_budget(
                self.ctx.spec.run.budget, "run", run.usage, run.turns, starting_turn=starting_turn
            )

    async def _stop_for_budget(self, exc: BudgetExceeded) -> None:
        ctx = self.ctx
        if exc.scope == "run":
            run = self.shared.run_spend
            if not run.exceeded:
                run.exceeded = True
                ctx.event(EventType.BUDGET_EXCEEDED, **exc.metadata())
                ctx.output(f"⛔ {exc.reason}: stopping every agent of the run")
            stopped = ctx.cancel_run(exc.reason)
        else:
            ctx.event(EventType.BUDGET_EXCEEDED, **exc.metadata())
            ctx.output(f"⛔ {exc.reason}")
            stopped = ctx.cancel(exc.reason)
        if stopped:
            await anyio.lowlevel.checkpoint()  # the cancel lands here

    def _record_info(self) -> None:
        self.ctx.event(
            EventType.AGENT_INFO,
            model=self.model,
            turns=self.turns,
            cost_usd=round(self.spend.cost_usd, 6),
            **{k: v for k, v in self.savings.to_dict().items() if k != "cost_usd"},
        )
