"""Token and cost budgets hold for every backend, not only the claude one: the runner
checks them as usage is reported (here by command agents through `::oneie usage`)."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.fakes.process_tools import loaded, of_type, run_spec, script, status_of

PY = sys.executable

SPENDER = """
import sys, time
cost = float(sys.argv[1])
for i in range(int(sys.argv[2])):
    print(f'::oneie usage {{"input_tokens": 100, "output_tokens": 100, "cost_usd": {cost}}}', flush=True)
    time.sleep(0.1)
print("all spent", flush=True)
"""


def test_an_agent_over_its_cost_budget_is_cancelled(tmp_path: Path) -> None:
    body = script(tmp_path, "spend.py", SPENDER)
    spec = loaded(
        [
            {"id": "spender", "command": {"argv": [PY, body, "0.2", "10"]}, "budget": {"max_cost_usd": 0.5}},
            {"id": "frugal", "command": {"argv": [PY, body, "0.01", "3"]}},
        ],
        on_failure="continue",
    )
    runner, events = run_spec(spec, tmp_path)
    assert status_of(events, "spender") == "cancelled"
    assert runner.agents["spender"].reason.startswith("budget_exceeded: agent max_cost_usd")
    exceeded = of_type(events, "budget_exceeded")
    assert [e.actor for e in exceeded] == ["spender"] and exceeded[0].metadata["scope"] == "agent"
    assert 0.5 < runner.agents["spender"].usage.cost_usd < 1.0  # stopped soon after, not at the end
    assert status_of(events, "frugal") == "completed"
    assert runner.run_status() == "failed"


def test_a_run_over_its_token_budget_stops_every_agent(tmp_path: Path) -> None:
    body = script(tmp_path, "spend.py", SPENDER)
    agents = [{"id": f"a{i}", "command": {"argv": [PY, body, "0", "50"]}} for i in range(3)]
    spec = loaded(agents, budget={"max_tokens": 2000})
    runner, events = run_spec(spec, tmp_path)
    exceeded = of_type(events, "budget_exceeded")
    assert len(exceeded) == 1 and exceeded[0].metadata["scope"] == "run"
    assert all(status_of(events, f"a{i}") == "cancelled" for i in range(3))
    assert all(s.reason.startswith("budget_exceeded: run max_tokens") for s in runner.agents.values())
    total = sum(s.usage.total_tokens for s in runner.agents.values())
    assert 2000 < total < 2000 + 3 * 200 * 3  # a few reports in flight at most
    assert runner.run_status() == "cancelled"
