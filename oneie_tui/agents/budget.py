"""Spend limits: which limit of a `Budget` a usage total has crossed, as one exception
with the stored reason. The claude backend checks at its turn boundaries (turns too);
the runner checks tokens and cost for every other backend as usage is reported."""

from __future__ import annotations

from typing import Any

from oneie_tui.events import Usage
from oneie_tui.spec.model import Budget


class BudgetExceeded(Exception):
    def __init__(self, scope: str, limit: str, value: float, maximum: float) -> None:
        self.scope, self.limit, self.value, self.maximum = scope, limit, value, maximum
        super().__init__(self.reason)

    @property
    def reason(self) -> str:
        who = "run" if self.scope == "run" else "agent"
        if self.limit == "max_cost_usd":
            spent = f"${self.value:.4f} > ${self.maximum:.4f}"
        elif self.limit == "max_turns":
            spent = f"{self.value:g} turns used of {self.maximum:g}"
        else:
            spent = f"{self.value:,.0f} > {self.maximum:,.0f} tokens"
        return f"budget_exceeded: {who} {self.limit} ({spent})"

    def metadata(self) -> dict[str, Any]:
        return {
            "scope": self.scope,
            "limit": self.limit,
            "value": round(self.value, 6),
            "max": self.maximum,
        }


def check_budget(
    budget: Budget, scope: str, usage: Usage, turns: int, *, starting_turn: bool
) -> None:
    """Raise `BudgetExceeded` when spend crosses a limit. Turns are checked before a turn
    starts (no turn beyond the limit is sent); tokens and cost once a response is counted.
    Written as `not spent <= limit`: a total that became NaN counts as over, never under."""
    if budget.max_turns is not None and starting_turn and turns >= budget.max_turns:
        raise BudgetExceeded(scope, "max_turns", turns, budget.max_turns)
    if budget.max_tokens is not None and not usage.total_tokens <= budget.max_tokens:
        raise BudgetExceeded(scope, "max_tokens", usage.total_tokens, budget.max_tokens)
    if budget.max_cost_usd is not None and not usage.cost_usd <= budget.max_cost_usd:
        raise BudgetExceeded(scope, "max_cost_usd", usage.cost_usd, budget.max_cost_usd)
