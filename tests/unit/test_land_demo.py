"""specs/land-demo.toml does what its header says, offline: the radar flags agent-api and
agent-web while they run, `oneie land` lands the rest and runs the acceptance check.
Also: the landing order against random dependency graphs (hypothesis)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import tomli_w
from hypothesis import given, settings
from hypothesis import strategies as st

from oneie_tui.land.landing import landing_order
from oneie_tui.spec.loader import parse_spec_text
from tests.conftest import SPECS
from tests.fakes.process_tools import git_repo


def _oneie(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "oneie_tui", *args, "--store", str(cwd.parent / "runs.sqlite3")],
        cwd=cwd, env={**os.environ, "COLUMNS": "200"}, capture_output=True, text=True, timeout=180, check=False,
    )


def test_land_demo_flags_the_overlap_while_running_and_lands_the_rest(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo")
    done = _oneie(repo, "run", str(SPECS / "land-demo.toml"), "--headless", "--json")
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    found = [e for e in lines if e.get("type") == "conflict_detected"]
    pair = next(e for e in found if set(e["metadata"]["agents"]) == {"agent-api", "agent-web"})
    assert pair["metadata"]["kind"] == "same_lines" and pair["metadata"]["paths"] == ["land-demo/app.py"]
    ends = [e["seq"] for e in lines if e.get("type") == "agent_completed" and e["actor"] in ("agent-api", "agent-web")]
    assert pair["seq"] < min(ends)  # flagged while both were still running
    summary = {a["id"]: a for a in lines[-1]["agents"]}
    assert summary["agent-api"]["conflicts"] == ["agent-web (lines)"]
    assert summary["agent-web"]["conflicts"] == ["agent-api (lines)"] and "conflicts" not in summary["agent-docs"]
    scope = [e for e in lines if e.get("type") == "scope_exceeded"]
    assert [(e["actor"], e["metadata"]["paths"]) for e in scope] == [("agent-docs", ["land-demo/NOTES.txt"])]

    landed = _oneie(repo, "land", "last")
    assert landed.returncode == 1, landed.stdout + landed.stderr
    out = landed.stdout
    assert out.index("✓ agent-schema landed") < out.index("✓ agent-api landed")
    assert "✗ agent-web left out: conflicts in land-demo/app.py (with agent-api)" in out
    assert "✓ The landed app runs and greets from the API" in out
    assert subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True).stdout == ""

    # Landing again with the demo's resolver: agent-fixer resolves agent-web's conflict.
    resolved = _oneie(repo, "land", "last", "--resolve-with", "agent-fixer")
    assert resolved.returncode == 0, resolved.stdout + resolved.stderr
    assert "✓ agent-web landed: conflicts resolved by agent-fixer" in resolved.stdout
    assert "✓ The landed app runs and greets from the API" in resolved.stdout
    app = subprocess.run(["git", "show", "oneie/" + lines[-1]["run_id"] + "/landed:land-demo/app.py"],
                         cwd=repo, capture_output=True, text=True, check=True).stdout
    assert 'return "hello from the api"' in app and '# agent-web wrote: return "hello from the web"' in app
    assert subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True).stdout == ""


@st.composite
def _graphs(draw: st.DrawFn) -> tuple[list[dict[str, object]], list[str]]:
    """A random acyclic squad: agent i may wait (all or any) on events of agents before it,
    listed in a shuffled order; and a random subset to land."""
    n = draw(st.integers(1, 8))
    agents: list[dict[str, object]] = []
    for i in range(n):
        deps = draw(st.lists(st.integers(0, i - 1), unique=True, max_size=3)) if i else []
        field = draw(st.sampled_from(["after", "after_any"]))
        agents.append({"id": f"a{i}", "emits": [f"done_{i}"], **({field: [f"done_{d}" for d in deps]} if deps else {})})
    shuffled = draw(st.permutations(agents))
    chosen = draw(st.lists(st.sampled_from([a["id"] for a in agents]), unique=True, min_size=1))
    return list(shuffled), [str(c) for c in chosen]


@settings(max_examples=200, deadline=None)
@given(_graphs())
def test_landing_order_puts_every_emitter_before_its_waiters(graph: tuple[list[dict[str, object]], list[str]]) -> None:
    agents, chosen = graph
    spec = parse_spec_text(tomli_w.dumps({"feature": {"name": "g"}, "agents": agents}))
    order = landing_order(spec, chosen)
    assert sorted(order) == sorted(chosen)  # each chosen agent once, nothing else
    emitter = {f"done_{a['id'][1:]}": a["id"] for a in agents}  # type: ignore[index]
    waits = {a["id"]: {emitter[n] for n in [*a.get("after", []), *a.get("after_any", [])]} for a in agents}  # type: ignore[misc]

    def upstream(agent: str) -> set[str]:
        seen: set[str] = set()
        todo = [agent]
        while todo:
            for dep in waits[todo.pop()]:
                if dep not in seen:
                    seen.add(dep)
                    todo.append(dep)
        return seen

    position = {a: i for i, a in enumerate(order)}
    for agent in order:
        for dep in upstream(agent):  # also through agents that are not landed
            if dep in position:
                assert position[dep] < position[agent], (dep, agent, order)
