"""The `codex` backend: each agent is a real OpenAI Codex CLI process (`codex exec --json`).

- Permissions: Codex's own sandbox. In the agent's own worktree the default is
  `workspace-write` (it may change files there and nowhere else; no network); elsewhere
  `read-only`. `codex = { sandbox = "danger-full-access" }` lifts the sandbox (and the
  approvals) for a machine you trust.
- `codex = { base_url = "http://host/v1" }` points it at any Responses API server through a
  provider entry of its own (`-c model_providers.oneie=...`), with the key from
  `api_key_env` (OPENAI_API_KEY). Without it, the CLI uses its own login or key.
- Output: `thread.started` gives the session id (`codex exec resume ID`), `item.*` events
  the commands and messages, `turn.completed` the usage. Codex's usage is cumulative for
  the thread and carries no cost: oneie records the growth and prices it from the table.
"""

from __future__ import annotations

import os
import subprocess
from typing import Any

from oneie_tui.agents.base import AgentContext
from oneie_tui.agents.coding_cli import (
    CliOutcome,
    CliStream,
    CodingCliBackend,
    count,
    isolated,
)
from oneie_tui.agents.pricing import PriceTable
from oneie_tui.events import Usage
from oneie_tui.spec.model import AgentSpec
from oneie_tui.spec.options.coding_cli import CodexOptions

# Nothing but the model API: no update check, analytics, feedback or plugin sync.
QUIET_CONFIG = (
    "check_for_update_on_startup=false",
    "analytics.enabled=false",
    "feedback.enabled=false",
    "features.plugins=false",
    "features.remote_plugin=false",
    "features.apps=false",
    # A login shell resets PATH from the profile, and `oneie` (on the agent's PATH) is lost.
    "allow_login_shell=false",
)
KEY_VARIABLES = ("OPENAI_API_KEY", "CODEX_API_KEY")


def sandbox_of(ctx: AgentContext) -> str:
    """The spec's choice, else writes confined to the agent's own worktree, else none."""
    return ctx.agent.codex.sandbox or ("workspace-write" if isolated(ctx) else "read-only")


class CodexStream(CliStream):
    """`codex exec --json` lines → oneie events."""

    def __init__(self, ctx: AgentContext, prices: PriceTable | None, model: str | None) -> None:
        super().__init__(ctx, prices, model)
        self.last_message = ""
        self.last_error = ""
        self.commands = 0
        self.seen = Usage()  # the thread's running total so far

    def on_event(self, obj: dict[str, Any]) -> None:
        kind = obj.get("type")
        if kind == "thread.started":
            self.begin(str(obj.get("thread_id", "")), model=self.model)
        elif kind in ("item.started", "item.completed"):
            item = obj.get("item")
            if isinstance(item, dict):
                self._item(item, done=kind == "item.completed")
        elif kind == "turn.completed":
            self._usage(obj.get("usage"))
            self.outcome = CliOutcome(ok=True, summary=self.last_message, facts=self._facts())
        elif kind == "turn.failed":
            error = obj.get("error")
            message = str(error.get("message", "")) if isinstance(error, dict) else ""
            self.outcome = CliOutcome(ok=False, error=message or self.last_error, facts=self._facts())
        elif kind == "error":
            self.last_error = str(obj.get("message", ""))
            self.ctx.output(f"error: {self.last_error}", "stderr")

    def _item(self, item: dict[str, Any], done: bool) -> None:
        kind = item.get("type")
        if kind == "command_execution":
            if not done:
                self.commands += 1
                self.tool("shell", str(item.get("command", "")), str(item.get("id", "")))
            else:
                code = item.get("exit_code")
                output = str(item.get("aggregated_output", ""))
                self.tool_result(output or f"exit {code}", failed=code not in (0, None))
        elif kind == "agent_message" and done:
            self.last_message = str(item.get("text", ""))
            self.text(self.last_message)
        elif kind == "reasoning" and done and item.get("text"):
            self.ctx.output(str(item["text"]).splitlines()[0], "stderr")
        elif kind == "file_change" and done:
            changes = item.get("changes")
            paths = [str(c.get("path", "")) for c in changes if isinstance(c, dict)] if isinstance(changes, list) else []
            self.tool("apply_patch", ", ".join(paths), str(item.get("id", "")))
        elif kind == "error" and done:  # a warning item (e.g. model metadata), not a failure
            self.ctx.output(str(item.get("message", "")), "stderr")

    def _usage(self, data: Any) -> None:
        """Codex reports the thread's running total: record what grew since the last one."""
        if not isinstance(data, dict):
            return
        cached = count(data.get("cached_input_tokens"))
        total = Usage(
            input_tokens=max(0, count(data.get("input_tokens")) - cached),
            output_tokens=count(data.get("output_tokens")),
            cache_write_tokens=count(data.get("cache_write_input_tokens")),
            cache_read_tokens=cached,
        )
        delta = total.growth_since(self.seen)
        self.seen = total
        self.add_usage(delta)

    def _facts(self) -> dict[str, Any]:
        return {"commands": self.commands}


class CodexBackend(CodingCliBackend):
    name = "codex"
    cli_name = "codex"
    label = "codex"
    title = "the Codex CLI (codex)"
    install_hint = "install it with `npm install @openai/codex` (in the project, or with -g), or set codex.cli"

    @classmethod
    def options_of(cls, agent: AgentSpec) -> CodexOptions:
        return agent.codex

    def argv(
        self, cli: str, ctx: AgentContext, prompt: str, resume_id: str | None, new_session: str | None
    ) -> list[str]:
        opts = ctx.agent.codex
        argv = [cli, "exec", "--json", "--skip-git-repo-check"]
        model = ctx.agent.model or ctx.spec.run.model
        if model:
            argv += ["-m", model]
        for setting in QUIET_CONFIG:
            argv += ["-c", setting]
        if opts.base_url:
            url = opts.base_url.rstrip("/")
            argv += [
                "-c", 'model_provider="oneie"',
                "-c", (
                    f'model_providers.oneie={{name="oneie", base_url="{url}", '
                    f'env_key="{opts.api_key_env}", wire_api="responses"}}'
                ),
            ]
        sandbox = sandbox_of(ctx)
        if sandbox == "danger-full-access":
            argv.append("--dangerously-bypass-approvals-and-sandbox")
        else:
            argv += ["-s", sandbox]
        if sandbox == "workspace-write":
            # `oneie emit` reaches the run through a Unix socket, which the sandbox's
            # no-network rule would refuse.
            argv += ["-c", "sandbox_workspace_write.network_access=true"]
        argv += opts.extra_args
        if resume_id:
            return [*argv, "resume", resume_id, prompt]
        return [*argv, prompt]

    def new_stream(self, ctx: AgentContext) -> CliStream:
        return CodexStream(ctx, self.prices, ctx.agent.model or ctx.spec.run.model)

    @classmethod
    def check_auth(cls, agent: AgentSpec, where: str) -> None:
        opts = agent.codex
        keys = (opts.api_key_env,) if opts.base_url else KEY_VARIABLES
        if any(os.environ.get(k) or opts.env.get(k) for k in keys):
            return
        cli = cls.locate(agent, None)
        env = {**os.environ, **opts.env}
        try:
            done = subprocess.run(
                [cli, "login", "status"], env=env, stdin=subprocess.DEVNULL,
                capture_output=True, text=True, timeout=20,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ValueError(f"{where}: `codex login status` did not answer: {exc}") from None
        if done.returncode != 0:
            raise ValueError(
                f"{where}: codex is not logged in and {' / '.join(keys)} is not set: "
                "run `codex login` or export the key"
            )
