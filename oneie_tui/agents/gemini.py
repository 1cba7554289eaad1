"""The `gemini` backend: each agent is a real Google Gemini CLI process
(`gemini -p PROMPT --output-format stream-json`).

- Permissions: Gemini's approval modes. In the agent's own worktree the default is
  `auto_edit` (file edits are approved, shell commands are not, except `oneie emit` and
  `oneie progress`, which are always allowed); elsewhere `default` (read-only tools in
  headless mode). `gemini = { approval_mode = "yolo" }` approves every tool.
- `gemini = { base_url = "http://host" }` points it at any Gemini API server: the CLI gets
  `GOOGLE_GEMINI_BASE_URL` and a private home of this run and agent whose settings select
  key auth (`GEMINI_API_KEY`) and turn usage statistics, telemetry and auto-update off.
  Without it, the CLI uses the user's own login and settings.
- The session id is chosen before the start (`--session-id`), so even an agent cut off in
  its first second resumes (`-r ID`). Usage comes once, in the final `result`, per process.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

from oneie_tui import paths
from oneie_tui.agents.base import AgentContext
from oneie_tui.agents.coding_cli import CliOutcome, CliStream, CodingCliBackend, count, isolated
from oneie_tui.agents.pricing import PriceTable
from oneie_tui.events import Usage
from oneie_tui.spec.model import AgentSpec
from oneie_tui.spec.options.coding_cli import GeminiOptions

SIGNAL_TOOLS = ("run_shell_command(oneie emit)", "run_shell_command(oneie progress)")
KEY_VARIABLES = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
QUIET_SETTINGS: dict[str, Any] = {
    "security": {"auth": {"selectedType": "gemini-api-key"}},
    "privacy": {"usageStatisticsEnabled": False},
    "telemetry": {"enabled": False},
    "general": {"enableAutoUpdate": False, "enableAutoUpdateNotification": False},
}


def approval_of(ctx: AgentContext) -> str:
    """The spec's choice, else edits approved in the agent's own worktree, else none."""
    return ctx.agent.gemini.approval_mode or ("auto_edit" if isolated(ctx) else "default")


def private_home(run_id: str, agent_id: str) -> Path:
    """A Gemini CLI home of this run's agent (0700, ours): its settings and sessions."""
    home = paths.data_dir() / "cli-homes" / run_id / agent_id
    (home / ".gemini").mkdir(parents=True, exist_ok=True, mode=0o700)
    for folder in (home / ".gemini", home, home.parent, home.parent.parent):
        folder.chmod(0o700)  # created by us above (the data folder's own subfolders)
    settings = home / ".gemini" / "settings.json"
    settings.write_text(json.dumps(QUIET_SETTINGS, indent=2), encoding="utf-8")
    settings.chmod(0o600)
    return home


class GeminiStream(CliStream):
    """`gemini --output-format stream-json` lines → oneie events."""

    def __init__(self, ctx: AgentContext, prices: PriceTable | None, model: str | None) -> None:
        super().__init__(ctx, prices, model)
        self.partial = ""  # assistant text arrives in deltas: shown a line at a time
        self.said = ""

    def on_event(self, obj: dict[str, Any]) -> None:
        kind = obj.get("type")
        if kind == "init":
            self.model = str(obj.get("model") or self.model)
            self.begin(str(obj.get("session_id", "")), model=self.model)
        elif kind == "message" and obj.get("role") == "assistant":
            self._say(str(obj.get("content", "")))
        elif kind == "tool_use":
            self._flush()
            params = obj.get("parameters")
            brief = (
                str(params.get("command") or params.get("file_path") or json.dumps(params))
                if isinstance(params, dict) else ""
            )
            self.tool(str(obj.get("tool_name", "?")), brief, str(obj.get("tool_id", "")))
        elif kind == "tool_result":
            self.tool_result(str(obj.get("output", "")), failed=obj.get("status") != "success")
        elif kind == "result":
            self._flush()
            self._result(obj)

    def _say(self, text: str) -> None:
        self.said += text
        self.partial += text
        *lines, self.partial = self.partial.split("\n")
        for line in lines:
            self.ctx.output(line)

    def _flush(self) -> None:
        if self.partial:
            self.ctx.output(self.partial)
            self.partial = ""

    def _result(self, obj: dict[str, Any]) -> None:
        stats = obj.get("stats") if isinstance(obj.get("stats"), dict) else {}
        assert isinstance(stats, dict)
        cached = count(stats.get("cached"))
        self.add_usage(
            Usage(
                input_tokens=max(0, count(stats.get("input_tokens")) - cached),
                output_tokens=count(stats.get("output_tokens")),
                cache_read_tokens=cached,
            )
        )
        facts = {"tool_calls": count(stats.get("tool_calls")), "duration_ms": count(stats.get("duration_ms"))}
        if obj.get("status") == "success":
            self.outcome = CliOutcome(ok=True, summary=self.said.strip(), facts=facts)
        else:
            error = obj.get("error")
            message = str(error.get("message", "")) if isinstance(error, dict) else ""
            self.outcome = CliOutcome(ok=False, error=message or str(obj.get("status", "error")), facts=facts)

    def finish(self) -> None:
        self._flush()


class GeminiBackend(CodingCliBackend):
    name = "gemini"
    cli_name = "gemini"
    label = "gemini"
    title = "the Gemini CLI (gemini)"
    install_hint = "install it with `npm install @google/gemini-cli` (in the project, or with -g), or set gemini.cli"

    @classmethod
    def options_of(cls, agent: AgentSpec) -> GeminiOptions:
        return agent.gemini

    def argv(
        self, cli: str, ctx: AgentContext, prompt: str, resume_id: str | None, new_session: str | None
    ) -> list[str]:
        opts = ctx.agent.gemini
        argv = [cli, "-p", prompt, "--output-format", "stream-json", "--skip-trust"]
        approval = approval_of(ctx)
        argv += ["--approval-mode", approval]
        if approval != "yolo":  # under yolo an allow-list would deny every other tool
            tools = list(dict.fromkeys([*opts.allowed_tools, *SIGNAL_TOOLS]))
            # One value per flag: the option is variadic and would swallow what follows.
            argv += [f"--allowed-tools={tool}" for tool in tools]
        model = ctx.agent.model or ctx.spec.run.model
        if model:
            argv += ["-m", model]
        argv += opts.extra_args
        if resume_id:
            return [*argv, "-r", resume_id]
        return [*argv, "--session-id", new_session] if new_session else argv

    def new_session_id(self, ctx: AgentContext) -> str | None:
        return str(uuid.uuid4())

    def environment(self, ctx: AgentContext) -> dict[str, str]:
        opts = ctx.agent.gemini
        if not opts.base_url:
            return {}
        return {
            "GOOGLE_GEMINI_BASE_URL": opts.base_url.rstrip("/"),
            "GEMINI_CLI_HOME": str(private_home(ctx.run_id, ctx.agent_id)),
        }

    def new_stream(self, ctx: AgentContext) -> CliStream:
        return GeminiStream(ctx, self.prices, ctx.agent.model or ctx.spec.run.model)

    @classmethod
    def check_auth(cls, agent: AgentSpec, where: str) -> None:
        opts = agent.gemini
        env = {**os.environ, **opts.env}
        if any(env.get(k) for k in KEY_VARIABLES) or env.get("GOOGLE_GENAI_USE_VERTEXAI"):
            return
        if not opts.base_url:
            home = Path(env.get("GEMINI_CLI_HOME") or Path.home())
            if (home / ".gemini" / "oauth_creds.json").is_file():
                return
        raise ValueError(
            f"{where}: gemini cannot authenticate: export GEMINI_API_KEY, or run `gemini` once "
            "to log in with Google"
        )
