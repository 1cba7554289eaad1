"""`oneie plan SPEC` and the lints in `oneie validate`: figures, JSON, exit codes, and spec
text shown as text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from oneie_tui.cli import main
from tests.conftest import SPECS

VAGUE = """[feature]
name = "Course CRUD"
description = "Courses."
acceptance = ["Users can create courses"]
[feature.ontology]
things = ["course"]
[[agents]]
id = "agent-backend"
task = "Build something"
estimate = "2h"
emits = ["schema_ready"]
[[agents]]
id = "agent-frontend"
task = "[bold red]Course UI[/] \\u001b[31m against the schema, then more"
estimate = "90m"
after = ["schema_ready"]
"""


def test_plan_prints_the_references_figures(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", str(SPECS / "course-crud.toml")]) == 0
    out = capsys.readouterr().out
    assert "5s" in out and "2s" in out and "2.50x" in out
    assert "33% → 83%" in out
    assert "█" in out  # the Gantt of the plan
    assert "No lint warnings." in out


def test_plan_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", str(SPECS / "payment-squad.toml"), "--json", "--max-parallel", "2"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["sequential_s"] == 7.0 and data["parallel_s"] == 2.0 and data["speedup"] == 3.5
    assert data["capped_s"] == 4.0 and data["max_parallel"] == 2
    assert data["lints"] == []
    assert [a["id"] for a in data["agents"]][:2] == ["agent-backend", "agent-frontend"]


def test_plan_shows_lints_with_line_and_place(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "vague.toml"
    spec.write_text(VAGUE)
    assert main(["plan", str(spec), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [(x["id"], x["place"], x["line"]) for x in data["lints"]] == [("vague-task", "agents[0].task", 9)]
    assert data["sequential_s"] == 2 * 3600 + 90 * 60


def test_spec_text_is_never_markup_nor_control(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "vague.toml"
    spec.write_text(VAGUE.replace('name = "Course CRUD"', 'name = "[bold]Course[/] \\u001b[31mCRUD"'))
    assert main(["plan", str(spec)]) == 0
    out = capsys.readouterr().out
    assert "[bold]Course[/] \\x1b[31mCRUD" in out  # shown as written: not bold, not red
    assert "\x1b" not in out


def test_validate_prints_lints_as_warnings_and_still_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "vague.toml"
    spec.write_text(VAGUE)
    assert main(["validate", str(spec)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith("ok ('Course CRUD', 2 agents)")
    assert out[1].startswith(f"{spec}:9: warning: agents[0].task: the task 'Build something' is 2 words")
    assert out[1].endswith("[vague-task]")


def test_plan_of_a_bad_spec_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "bad.toml"
    spec.write_text(VAGUE.replace('estimate = "2h"', 'estimate = "2 hours"'))
    assert main(["plan", str(spec)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{spec}:10: agents[0].estimate: '2 hours' is not a duration" in err


def test_plan_max_parallel_must_be_a_count(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["plan", str(SPECS / "course-crud.toml"), "--max-parallel", "-1"])
    assert exc.value.code == 2
