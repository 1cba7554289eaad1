"""Every way a spec can be wrong ends as one `SpecError` naming the file and the place."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oneie_tui.spec.loader import (
    SpecError,
    load_spec,
    parse_spec_bytes,
    parse_spec_text,
    starter_spec,
)
from oneie_tui.spec.model import Spec, spec_json_schema
from tests.conftest import SPECS

HEAD = '[feature]\nname = "t"\n'


def agent(agent_id: str, body: str = "") -> str:
    return f'[[agents]]\nid = "{agent_id}"\n{body}\n'


def error_of(text: str) -> SpecError:
    with pytest.raises(SpecError) as info:
        parse_spec_text(text, "spec.toml")
    err = info.value
    assert "\n" not in str(err)
    assert str(err).startswith("spec.toml")
    return err


def test_a_good_spec_loads() -> None:
    spec = parse_spec_text(HEAD + agent("a", 'emits = ["a_ready"]') + agent("b", 'after = ["a_ready"]'))
    assert [a.id for a in spec.agents] == ["a", "b"]
    assert spec.run.backend == "sim"
    assert spec.run.on_failure == "cancel"


def test_duplicate_ids() -> None:
    err = error_of(HEAD + agent("a") + agent("b") + agent("a"))
    assert err.field == "agents[2].id"
    assert "duplicate agent id 'a'" in err.message
    assert "agents[0]" in err.message
    assert err.line == 10  # the third [[agents]] block's id line


def test_awaited_event_nobody_emits() -> None:
    err = error_of(HEAD + agent("a", 'emits = ["a_ready"]') + agent("b", 'after = ["a_ready", "b_ready"]'))
    assert err.field == "agents[1].after[1]"
    assert "waits for 'b_ready', which no agent emits" in err.message


def test_after_any_event_nobody_emits() -> None:
    err = error_of(HEAD + agent("a") + agent("b", 'after_any = ["zz_ready"]'))
    assert err.field == "agents[1].after_any[0]"


def test_cycle_is_named() -> None:
    text = (
        HEAD
        + agent("root", 'emits = ["root_ready"]')
        + agent("a", 'after = ["root_ready", "c_ready"]\nemits = ["a_ready"]')
        + agent("b", 'after = ["a_ready"]\nemits = ["b_ready"]')
        + agent("c", 'after = ["b_ready"]\nemits = ["c_ready"]')
    )
    err = error_of(text)
    assert "dependency cycle: a → c → b → a" in err.message
    assert err.field == "agents[1].after[1]"  # a waits for c_ready: where the loop closes


def test_self_cycle() -> None:
    err = error_of(HEAD + agent("a", 'after = ["a_ready"]\nemits = ["a_ready"]'))
    assert "dependency cycle: a → a" in err.message


def test_cycle_behind_an_after_any_with_no_way_out() -> None:
    text = (
        HEAD
        + agent("a", 'after_any = ["b_ready"]\nemits = ["a_ready"]')
        + agent("b", 'after = ["a_ready"]\nemits = ["b_ready"]')
        + agent("c", 'after = ["b_ready"]')
    )
    assert "dependency cycle: a → b → a" in error_of(text).message


def test_after_any_with_one_live_source_is_no_cycle() -> None:
    text = (
        HEAD
        + agent("s", 'emits = ["s_ready"]')
        + agent("a", 'after_any = ["b_ready", "s_ready"]\nemits = ["a_ready"]')
        + agent("b", 'after = ["a_ready"]\nemits = ["b_ready"]')
    )
    parse_spec_text(text)


@pytest.mark.parametrize(
    "name", ["SchemaReady", "schema-ready", "schema", "schema__ready", "_schema_ready", "1st_ready", "schema ready", ""]
)
def test_bad_event_names(name: str) -> None:
    err = error_of(HEAD + agent("a", f'emits = ["ok_ready", "{name}"]'))
    assert err.field == "agents[0].emits[1]"
    if name:
        assert "{domain}_{action} snake_case" in err.message


def test_bad_event_name_in_after_and_ontology() -> None:
    assert error_of(HEAD + agent("a", 'after = ["Ready"]')).field == "agents[0].after[0]"
    err = error_of(HEAD + '[feature.ontology]\nevents = ["course_created", "Created"]\n' + agent("a"))
    assert err.field == "feature.ontology.events[1]"


def test_sim_event_time_for_an_event_not_emitted() -> None:
    err = error_of(HEAD + agent("a", 'emits = ["a_ready"]\nsim = { events = { b_ready = 1.0 } }'))
    assert err.field == "agents[0].sim.events.b_ready"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('colour = "red"', "agents[0].colour"),
        ("sim = { duration = 1.0, speed = 2 }", "agents[0].sim.speed"),
        ("claude = { max_turn = 3 }", "agents[0].claude.max_turn"),
    ],
)
def test_unknown_keys(body: str, field: str) -> None:
    err = error_of(HEAD + agent("a", body))
    assert err.field == field
    assert "unknown key" in err.message


def test_unknown_top_level_and_run_keys() -> None:
    assert error_of(HEAD + "[runs]\nx = 1\n" + agent("a")).field == "runs"
    assert error_of(HEAD + "[run]\nparallel = 2\n" + agent("a")).field == "run.parallel"


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ('sim = { duration = "2" }', "agents[0].sim.duration", "valid number"),
        ('emits = "a_ready"', "agents[0].emits", "valid list"),
        ('after = ["a_ready", 3]', "agents[0].after[1]", "valid string"),
        ("timeout = -1.0", "agents[0].timeout", "greater than 0"),
        ("sim = { duration = nan }", "agents[0].sim.duration", "finite"),
        ('backend = "gpt"', "agents[0].backend", "'sim'"),
        ('id = "has space"', "agents[0].id", "pattern"),
        ("race = 1", "agents[0].race", "valid string"),
    ],
)
def test_wrong_types_and_values(body: str, field: str, words: str) -> None:
    text = HEAD + "[[agents]]\n" + ("" if "id =" in body else 'id = "a"\n') + body + "\n"
    err = error_of(text)
    assert err.field == field
    assert words in err.message


def test_run_settings_types() -> None:
    assert error_of(HEAD + "[run]\nmax_parallel = 1.5\n" + agent("a")).field == "run.max_parallel"
    assert error_of(HEAD + '[run]\non_failure = "ignore"\n' + agent("a")).field == "run.on_failure"
    assert error_of(HEAD + "[run]\nmax_parallel = true\n" + agent("a")).field == "run.max_parallel"


def test_field_path_with_index_and_its_line() -> None:
    text = HEAD + agent("a", 'emits = ["a_ready"]') + agent("b") + agent("c", 'after = [7]')
    err = error_of(text)
    assert err.field == "agents[2].after[0]"
    assert err.line == text.splitlines().index("after = [7]") + 1
    assert str(err).startswith(f"spec.toml:{err.line}: agents[2].after[0]: ")


def test_missing_sections() -> None:
    assert error_of(agent("a")).field == "feature"
    assert error_of(HEAD).field == "agents"
    assert error_of("agents = []\n" + HEAD).field == "agents"


def test_toml_syntax_error_has_line_and_column() -> None:
    err = error_of(HEAD + '[[agents]]\nid = "a"\nrole = backend\n')
    assert (err.line, err.column) == (5, 8)
    assert str(err) == "spec.toml:5:8: TOML syntax: Invalid value"


def test_toml_error_at_the_end_of_the_file_still_has_a_place() -> None:
    err = error_of(HEAD + '[[agents]]\nid = "a"\ntask = "unterminated')
    assert err.line == 5
    assert err.column is not None
    assert "end of the file" in err.message


def test_file_level_errors(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="no such file"):
        load_spec(tmp_path / "missing.toml")
    with pytest.raises(SpecError, match="folder"):
        load_spec(tmp_path)
    empty = tmp_path / "empty.toml"
    empty.write_text("  \n")
    with pytest.raises(SpecError, match="empty"):
        load_spec(empty)
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"a = 1\n\x00\x01")
    with pytest.raises(SpecError, match="binary") as info:
        load_spec(binary)
    assert info.value.line == 2
    latin = tmp_path / "latin.toml"
    latin.write_bytes(b'[feature]\nname = "caf\xe9"\n')
    with pytest.raises(SpecError, match="UTF-8") as info:
        load_spec(latin)
    assert (info.value.line, info.value.column) == (2, 12)


def test_every_shipped_spec_is_valid() -> None:
    files = sorted(SPECS.glob("*.toml"))
    assert len(files) >= 9
    for path in files:
        load_spec(path)


def test_starter_spec_is_valid_and_round_trips() -> None:
    spec = parse_spec_text(starter_spec("Course Catalog"))
    assert spec.feature.name == "Course Catalog"
    assert [a.id for a in spec.agents] == ["agent-backend", "agent-frontend", "agent-quality"]


def test_json_schema_describes_the_spec() -> None:
    schema = spec_json_schema()
    json.dumps(schema)
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert set(schema["required"]) == {"feature", "agents"}
    assert schema["additionalProperties"] is False
    agent_def = schema["$defs"]["AgentSpec"]
    for key in ("id", "after", "after_any", "race", "emits", "timeout", "sim", "claude", "command", "claude_code"):
        assert key in agent_def["properties"]


# --- hypothesis: whatever the input, the loader loads it or raises SpecError -------------

toml_ish = st.text(
    alphabet=st.sampled_from(list('[]{}="\',.#\n \t_-abcdefgidnrstu0123456789') + ["\\", "\x00", "é", "\ud800"]),
    max_size=300,
)
fragments = st.lists(
    st.sampled_from(
        [
            "[feature]\n", 'name = "x"\n', "[[agents]]\n", 'id = "a"\n', 'id = "b"\n',
            'emits = ["a_ready"]\n', 'after = ["a_ready"]\n', 'after_any = ["b_ready"]\n',
            'emits = ["b_ready"]\n', "sim = { duration = 1.0 }\n", "sim = { fail_at = -1 }\n",
            "[run]\n", "max_parallel = 2\n", "timeout = inf\n", 'race = "r"\n', "x = 1\n",
            "[feature.ontology]\n", 'events = ["x"]\n', "agents = 3\n", "[[agents.sim]]\n",
            'sim = { events = { a_ready = nan } }\n', "= =\n", "[[feature]]\n",
        ]
    ),
    max_size=14,
).map("".join)


def _loads_or_spec_error(load: object) -> None:
    try:
        result = load()  # type: ignore[operator]
    except SpecError as exc:
        assert "\n" not in str(exc)
        return
    assert isinstance(getattr(result, "spec", result), Spec)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(toml_ish, fragments, st.text(max_size=200)))
def test_any_text_loads_or_raises_spec_error(text: str) -> None:
    _loads_or_spec_error(lambda: parse_spec_text(text, "fuzz.toml"))


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.binary(max_size=300), fragments.map(lambda t: t.encode("utf-8")) | toml_ish.map(
    lambda t: t.encode("utf-8", "surrogatepass"))))
def test_any_bytes_load_or_raise_spec_error(raw: bytes) -> None:
    _loads_or_spec_error(lambda: parse_spec_bytes(raw, "fuzz.toml"))
