"""Scopes: overlap of agents that can run at the same time, and `oneie validate` warnings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import tomli_w

from oneie_tui.land.scope import concurrent_pairs, globs_overlap, outside, scope_overlaps
from oneie_tui.spec.loader import parse_spec_text
from tests.fakes.process_tools import git_repo


def _spec(agents: list[dict[str, object]]) -> str:
    return tomli_w.dumps({"feature": {"name": "Scopes"}, "agents": agents})


@pytest.mark.parametrize(
    ("a", "b", "overlap"),
    [
        ("src/api/**", "src/api/models/*.py", True),
        ("src/api/**", "src/web/**", False),
        ("*.py", "src/**", True),  # no slash: any depth, as in .gitignore
        ("*.py", "docs/*.md", False),
        ("*.py", "src/*", True),
        ("src/a.py", "src/**", True),
        ("src/a.py", "src/b.py", False),
        ("docs/*.md", "docs/api/*.md", False),  # one `*` stays in its folder
        ("src/api", "src/api/**", True),
    ],
)
def test_globs_overlap(a: str, b: str, overlap: bool) -> None:
    assert globs_overlap(a, b) is overlap
    assert globs_overlap(b, a) is overlap


def test_outside_names_the_paths_no_glob_covers() -> None:
    assert outside(["src/api/**", "README.md"], ["src/api/x.py", "README.md", "src/web/y.py"]) == ["src/web/y.py"]
    assert outside([], ["anything"]) == []


def test_only_agents_that_can_run_together_are_compared() -> None:
    spec = parse_spec_text(_spec([
        {"id": "schema", "emits": ["schema_ready"], "scope": ["src/**"]},
        {"id": "api", "after": ["schema_ready"], "emits": ["api_ready"], "scope": ["src/**"]},
        {"id": "ui", "after": ["api_ready"], "scope": ["src/**"]},
        {"id": "docs", "scope": ["src/**"]},
    ]))
    pairs = concurrent_pairs(spec)
    assert ("schema", "api") not in pairs and ("schema", "ui") not in pairs  # ui waits on schema through api
    assert ("schema", "docs") in pairs and ("api", "docs") in pairs and ("ui", "docs") in pairs
    assert [o.agents for o in scope_overlaps(spec)] == [("schema", "docs"), ("api", "docs"), ("ui", "docs")]


def test_validate_warns_on_overlapping_scopes_and_names_the_files(tmp_path: Path) -> None:
    repo = git_repo(tmp_path / "repo")
    (repo / "src").mkdir()
    (repo / "src" / "main.py").write_text("x\n")
    subprocess.run(["git", "add", "src"], cwd=repo, check=True)
    spec = repo / "spec.toml"
    spec.write_text(_spec([
        {"id": "a", "scope": ["*.py"]},
        {"id": "b", "scope": ["src/**"]},
        {"id": "c", "scope": ["docs/*.md"]},
    ]))
    done = subprocess.run(
        [sys.executable, "-m", "oneie_tui", "validate", str(spec)], cwd=repo,
        env=dict(os.environ), capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"oneie: warning: {spec}: agents 'a' and 'b' can run at the same time and their scopes "
        "overlap ('*.py' and 'src/**'); both cover src/main.py"
    ]


def test_scope_is_checked_by_the_spec_model() -> None:
    from oneie_tui.spec.loader import SpecError

    with pytest.raises(SpecError, match="scope"):
        parse_spec_text(_spec([{"id": "a", "scope": [""]}]))


def test_a_waiter_listed_before_its_emitter_is_not_concurrent_with_it() -> None:
    spec = parse_spec_text(_spec([
        {"id": "consumer", "after_any": ["x_ready"], "scope": ["src/**"]},
        {"id": "producer", "emits": ["x_ready"], "scope": ["src/**"]},
    ]))
    assert concurrent_pairs(spec) == [] and scope_overlaps(spec) == []
