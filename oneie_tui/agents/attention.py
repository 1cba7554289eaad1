"""When an agent's own words say it needs the user: a tool call the CLI refused, or a
final reply that asks a question. Plain text tests, shared by the claude and claude-code
backends (they publish the finding with `AgentContext.attention`).

The question test is deliberately simple, so a user can predict it: the last non-empty
line of the agent's final reply (a turn with no tool call), without trailing markdown
emphasis, quotes or brackets, ends with a question mark. "Should I also update the docs?"
counts; "Done. (Was that what you wanted?)" counts; a question in the middle of a report
that ends with a statement does not.
"""

from __future__ import annotations

import re

# What the Claude Code CLI (2.x) says in the tool result of a call it refused: "Claude
# requested permissions to use Write, but you haven't granted it yet.", "... to write to
# PATH, but you haven't granted it yet.", "Permission to use Bash has been denied", and
# hooks' "blocked" answers ("Blocked by hook", "The command was blocked").
DENIAL = re.compile(
    r"haven't granted it yet|requested permissions? to|permission to use \S+ (?:has been|was) denied"
    r"|permission denied by|\bblocked by (?:a |the )?(?:hook|policy|permission|user|sandbox)"
    r"|\bwas blocked\b|\bis not allowed\b.*\bpermission",
    re.IGNORECASE,
)
TRAILING = "*_`\"'»”’)]} \t"


def is_denial(text: str) -> bool:
    """Whether a failed tool result's text says the call was refused (not that it ran and
    failed: a failing test or a missing file is the agent's business, not the user's)."""
    return bool(DENIAL.search(text))


def asks_question(text: str) -> bool:
    """Whether a final reply ends in a question (see the module docstring)."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return False
    return lines[-1].rstrip(TRAILING).endswith(("?", "？"))
