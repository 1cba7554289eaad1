"""Scripts for driving real Claude Code CLI agents through `ScriptedAnthropicServer`.

The CLI sends the whole conversation with every request, so the reply can be chosen from
the request alone: which agent it is (its brief says "You are AGENT-ID,") and how far it
got (how many tool results it has sent back). That makes the script stateless: a retried
request gets the same answer, and parallel agents never take each other's turns. Requests
that belong to no agent (anything the CLI asks on the side) get a plain text answer.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from tests.fakes.anthropic_server import RecordedRequest, Reply, text

ROOT = Path(__file__).resolve().parents[2]


def agent_of(req: RecordedRequest, agent_ids: Sequence[str]) -> str | None:
    body = req.text()
    for agent in sorted(agent_ids, key=len, reverse=True):
        if re.search(rf"You are {re.escape(agent)},", body):
            return agent
    return None


def by_agent_and_step(
    scripts: Mapping[str, Sequence[Reply]], *, done: str = "Done."
) -> Callable[[RecordedRequest], Reply]:
    """Agent X's n-th reply is scripts[X][n], n = tool results in the request; after its
    list, `text(done)` ends the turn."""

    def answer(req: RecordedRequest) -> Reply:
        agent = agent_of(req, list(scripts))
        if agent is None:
            return text("ok")
        step = len(req.tool_results)
        replies = scripts[agent]
        return replies[step] if step < len(replies) else text(done)

    return answer


def claude_cli() -> str:
    """The real CLI: `claude` on PATH or the repo's node_modules. Fails (never skips) when
    it is missing: `make test` installs it."""
    found = shutil.which("claude") or str(ROOT / "node_modules/.bin/claude")
    if not (os.path.isfile(found) and os.access(found, os.X_OK)):
        import pytest

        pytest.fail(
            "the Claude Code CLI is not installed: run `npm install --no-audit --no-fund` in the "
            "repository (make test does), so node_modules/.bin/claude exists",
            pytrace=False,
        )
    return found
