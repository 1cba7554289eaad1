"""The lints of the reference's common mistakes: each caught, each silent when the spec
does it right, none on the bundled specs."""

from __future__ import annotations

import pytest

from oneie_tui.spec.lints import LINT_IDS, Lint, lint_spec, scopes_overlap
from oneie_tui.spec.loader import SpecError, load_spec, parse_spec_text
from tests.conftest import SPECS

FEATURE = """
[feature]
name = "Course CRUD"
description = "Users create courses with lessons."
acceptance = ["Users can create courses"]
[feature.ontology]
things = ["course", "lesson"]
connections = ["course_has_lessons"]
"""


def agent(agent_id: str, task: str, **fields: str) -> str:
    extra = "".join(f"{k} = {v}\n" for k, v in fields.items())
    return f'[[agents]]\nid = "{agent_id}"\nrole = "{agent_id.split("-")[-1]}"\ntask = "{task}"\n{extra}'


def lints(text: str) -> list[Lint]:
    return lint_spec(parse_spec_text(text))


def ids(text: str) -> list[str]:
    return [lint.id for lint in lints(text)]


RIGHT = FEATURE + agent("agent-backend", "Implement course schema", emits='["schema_ready"]') + agent(
    "agent-frontend", "Build course UI against the schema", after='["schema_ready"]'
) + agent("agent-quality", "Validate course flows")

# The reference's WRONG and RIGHT of each mistake, as specs.
CASES: dict[str, tuple[str, str]] = {
    "missing-context": (
        '[feature]\nname = "Course CRUD"\n' + agent("agent-backend", "Implement course schema")
        + agent("agent-frontend", "Build course UI"),
        RIGHT,
    ),
    "vague-task": (
        FEATURE + agent("agent-backend", "Build something") + agent("agent-frontend", "Build course UI"),
        RIGHT,
    ),
    "coupling-without-events": (
        FEATURE + agent("agent-backend", "Implement course schema", emits='["schema_ready"]')
        + agent("agent-frontend", "Build course UI against the schema"),
        RIGHT,
    ),
    "no-failure-handling": (
        RIGHT.replace("[[agents]]", '[run]\non_failure = "continue"\n[[agents]]', 1),
        RIGHT,
    ),
    "over-parallel": (
        FEATURE + "".join(agent(f"agent-{r}", f"The course {r} part") for r in ("a1", "b1", "c1", "d1")),
        FEATURE.replace("[feature.ontology]", "[run]\nmax_parallel = 3\n[feature.ontology]")
        + "".join(agent(f"agent-{r}", f"The course {r} part") for r in ("a1", "b1", "c1", "d1")),
    ),
    "sequential-in-parallel": (
        FEATURE + agent("agent-migration", "Course table migration", emits='["migrations_applied"]')
        + agent("agent-backend", "Course mutations, once the migration is done"),
        FEATURE + agent("agent-migration", "Course table migration", emits='["migrations_applied"]')
        + agent("agent-backend", "Course mutations, once the migration is done", after='["migrations_applied"]'),
    ),
    "no-file-tools": (
        FEATURE.replace("[feature.ontology]", '[run]\nbackend = "claude-code"\n[feature.ontology]')
        + agent("agent-backend", "Implement course schema", claude_code='{ permission_mode = "plan" }'),
        FEATURE.replace("[feature.ontology]", '[run]\nbackend = "claude-code"\nisolation = "worktree"\n[feature.ontology]')
        + agent("agent-backend", "Implement course schema"),
    ),
}
# Lints of oneie's own (not of the reference's common mistakes) cite the docs instead.
OWN_LINTS = {"no-file-tools"}


@pytest.mark.parametrize("lint_id", sorted(CASES))
def test_each_lint_catches_its_mistake(lint_id: str) -> None:
    wrong, _ = CASES[lint_id]
    found = [lint for lint in lints(wrong) if lint.id == lint_id]
    assert found, f"{lint_id} missed the reference's mistake"
    cites = "(docs/" if lint_id in OWN_LINTS else "(reference:"
    assert cites in found[0].message and "\n" not in found[0].message
    assert found[0].place.startswith(("agents[", "feature."))


@pytest.mark.parametrize("lint_id", sorted(CASES))
def test_each_lint_is_silent_when_done_right(lint_id: str) -> None:
    _, right = CASES[lint_id]
    assert lint_id not in ids(right)


def test_every_lint_has_a_case() -> None:
    assert sorted(CASES) == sorted(LINT_IDS)


@pytest.mark.parametrize("path", sorted(SPECS.glob("*.toml")), ids=lambda p: p.name)
def test_no_false_alarm_on_the_bundled_specs(path: object) -> None:
    assert lint_spec(load_spec(str(path)).spec) == []


def test_ignore_silences_one_lint_per_spec() -> None:
    wrong = CASES["vague-task"][0]
    assert "vague-task" in ids(wrong)
    silenced = wrong.replace("[feature.ontology]", "[feature.ontology]", 1) + '\n[lint]\nignore = ["vague-task"]\n'
    assert "vague-task" not in ids(silenced)


def test_an_unknown_lint_id_is_a_spec_error_at_its_place() -> None:
    with pytest.raises(SpecError) as err:
        parse_spec_text(RIGHT + '\n[lint]\nignore = ["vague"]\n', "s.toml")
    assert "lint.ignore[0]" in str(err.value)


def test_the_place_is_the_agent_the_lint_is_about() -> None:
    found = lints(CASES["vague-task"][0])
    assert [(lint.place, lint.id) for lint in found] == [("agents[0].task", "vague-task")]


def test_stand_in_words_count_unless_the_task_names_the_ontology() -> None:
    assert "vague-task" in ids(FEATURE + agent("agent-a", "Make the stuff work well"))
    assert "vague-task" not in ids(FEATURE + agent("agent-a", "Make the course stuff work"))


def test_the_claude_backend_waits_with_its_own_tool() -> None:
    # An agent on the claude backend can call wait_for_events mid-task: "then wait for
    # backend_ready" is coordination by events, not a missing `after`.
    text = FEATURE.replace("[feature.ontology]", '[run]\nbackend = "claude"\n[feature.ontology]') + agent(
        "agent-backend", "Course schema and API", emits='["backend_ready"]'
    ) + agent("agent-quality", "Write course tests, then wait for backend_ready and validate")
    assert ids(text) == []
    assert "sequential-in-parallel" in ids(text.replace('backend = "claude"', 'backend = "sim"'))


def test_commands_are_not_asked_for_shared_context() -> None:
    text = '[feature]\nname = "Checks"\n[run]\nbackend = "command"\n' + agent(
        "agent-lint", "Lint", command='{ argv = ["true"] }'
    ) + agent("agent-tests", "Tests", command='{ argv = ["true"] }')
    assert ids(text) == []


@pytest.mark.parametrize(
    ("a", "b", "overlap"),
    [
        (["src/api/**"], ["src/api/users.py"], "src/api/**"),
        (["src/api"], ["src/ui"], None),
        (["./docs/*.md"], ["docs/guide.md"], "./docs/*.md"),
        (["tests/"], ["tests/unit/test_x.py", "README.md"], "tests/"),
        (["a/b"], ["a/bc"], None),
    ],
)
def test_scopes_overlap(a: list[str], b: list[str], overlap: str | None) -> None:
    assert scopes_overlap(a, b) == overlap


def _claude_code(options: str, *, isolated: bool) -> str:
    run = '[run]\nbackend = "claude-code"\n' + ('isolation = "worktree"\n' if isolated else "")
    return FEATURE.replace("[feature.ontology]", run + "[feature.ontology]") + agent(
        "agent-backend", "Implement course schema", **({"claude_code": options} if options else {})
    )


@pytest.mark.parametrize(
    ("options", "isolated", "warned"),
    [
        ("", True, False),  # acceptEdits by default in its own worktree
        ("", False, True),  # the CLI's default mode, nothing allowed: every edit refused
        ('{ allowed_tools = ["Bash"] }', False, False),
        ('{ allowed_tools = ["Bash(npm test:*)"] }', False, False),  # unsure: silent
        ('{ allowed_tools = ["Read", "Grep"] }', False, True),
        ('{ permission_mode = "default" }', True, True),  # the spec says otherwise
        ('{ permission_mode = "plan", allowed_tools = ["Write"] }', True, True),
        ('{ permission_mode = "bypassPermissions" }', False, False),
        ('{ extra_args = ["--disallowedTools", "Write,Edit", "MultiEdit", "NotebookEdit"] }', True, True),
        ('{ extra_args = ["--disallowedTools=Write"] }', True, False),  # Edit still works
        ('{ extra_args = ["--permission-mode", "plan"] }', True, True),
        ('{ allowed_tools = ["Edit"], extra_args = ["--disallowedTools", "Bash(rm:*)"] }', False, False),
    ],
)
def test_no_file_tools_follows_the_permission_rules(options: str, isolated: bool, warned: bool) -> None:
    found = [lint for lint in lints(_claude_code(options, isolated=isolated)) if lint.id == "no-file-tools"]
    assert bool(found) == warned, found
    if found:
        assert found[0].place.startswith("agents[0].claude_code.")
        assert "agent-backend" in found[0].message


def test_validate_names_the_file_and_the_agent(tmp_path: object, capsys: pytest.CaptureFixture[str]) -> None:
    from pathlib import Path

    from oneie_tui.cli import main

    path = Path(str(tmp_path)) / "readonly.toml"
    path.write_text(_claude_code('{ permission_mode = "plan" }', isolated=True), encoding="utf-8")
    assert main(["validate", str(path)]) == 0  # a warning, never an error
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if "[no-file-tools]" in x)
    assert line.startswith(f"{path}:") and "agent-backend" in line and "warning" in line
