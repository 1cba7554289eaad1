"""`oneie validate`, `oneie schema`, `oneie new`: exit codes and one-line messages."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from oneie_tui.cli import main
from oneie_tui.spec.loader import load_spec
from tests.conftest import SPECS


def test_validate_a_good_spec(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(SPECS / "course-crud.toml")]) == 0
    out = capsys.readouterr().out
    assert "ok ('Course CRUD', 3 agents)" in out


def test_validate_a_bad_spec_exits_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[feature]\nname = "x"\n[[agents]]\nid = "a"\nafter = ["never_fired"]\n')
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err == f"oneie: {bad}:5: agents[0].after[0]: agent 'a' waits for 'never_fired', which no agent emits\n"


def test_validate_several_files_reports_each(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "syntax.toml"
    bad.write_text("[feature\n")
    assert main(["validate", str(SPECS / "workflow.toml"), str(bad)]) == 2
    captured = capsys.readouterr()
    assert "workflow.toml: ok" in captured.out
    assert captured.err == f"oneie: {bad}:1:9: TOML syntax: Expected ']' at the end of a table declaration\n"


def test_validate_in_a_subprocess_shows_no_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "dup.toml"
    bad.write_text('[feature]\nname = "x"\n[[agents]]\nid = "a"\n[[agents]]\nid = "a"\n')
    done = subprocess.run(
        [sys.executable, "-m", "oneie_tui", "validate", str(bad)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        f"oneie: {bad}:6: agents[1].id: duplicate agent id 'a' (first used by agents[0])"
    ]


def test_validate_missing_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "nope.toml"]) == 2
    assert capsys.readouterr().err == "oneie: nope.toml: no such file\n"


def test_bad_usage_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["validate"])
    assert info.value.code == 2
    with pytest.raises(SystemExit) as info:
        main(["run", "x.toml", "--speed", "fast"])
    assert info.value.code == 2


def test_run_with_a_bad_spec_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[feature]\nname = "x"\n[[agents]]\nid = "a"\nsim = { duration = "long" }\n')
    assert main(["run", str(bad), "--headless"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"oneie: {bad}:5: agents[0].sim.duration: ")
    assert err.count("\n") == 1


def test_run_with_a_bad_speed_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(SPECS / "course-crud.toml"), "--headless", "--speed", "0"]) == 2
    assert "--speed must be greater than 0" in capsys.readouterr().err


def test_schema_is_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["title"] == "oneie spec"
    assert "agents" in schema["properties"]


def test_new_writes_a_valid_starter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["new", "Course Catalog"]) == 0
    target = tmp_path / "course-catalog.toml"
    assert "wrote course-catalog.toml" in capsys.readouterr().out
    loaded = load_spec(target)
    assert loaded.name == "Course Catalog"
    # It refuses to overwrite, unless told to.
    assert main(["new", "Course Catalog"]) == 1
    assert "exists" in capsys.readouterr().err
    assert main(["new", "Course Catalog", "--force"]) == 0
    out = tmp_path / "sub.toml"
    assert main(["new", "X", "-o", str(out)]) == 0
    load_spec(out)


def test_new_into_a_missing_folder_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["new", "X", "-o", str(tmp_path / "no" / "such" / "x.toml")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("oneie: cannot write ")
    assert err.count("\n") == 1


def test_new_with_an_unusable_name_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["new", "x" * 300, "-o", str(tmp_path / "long.toml")]) == 2
    assert "feature.name" in capsys.readouterr().err


def test_new_writes_a_commented_starter(tmp_path: Path) -> None:
    out = tmp_path / "c.toml"
    assert main(["new", 'Odd "name"\n\x1b[31mred', "-o", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    comments = [line for line in text.splitlines() if line.lstrip().startswith("#")]
    assert len(comments) >= 6 and "\x1b" not in text.split("[feature]")[0]
    assert load_spec(out).spec.feature.name == 'Odd "name"\n\x1b[31mred'
