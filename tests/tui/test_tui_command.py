"""`oneie tui` arguments, config and themes: the parts that need no terminal."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from oneie_tui.cli import main
from oneie_tui.config import last_spec, load_config, remember_last_spec
from oneie_tui.paths import config_file
from oneie_tui.themes import ThemeFileError, load_themes, parse_theme
from tests.tui.conftest import SPECS


def test_missing_spec_is_exit_2(capsys: object, tmp_path: Path) -> None:
    assert main(["tui", str(tmp_path / "nope.toml")]) == 2


def test_invalid_spec_with_run_is_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[feature]\nname = 'x'\n", encoding="utf-8")
    assert main(["tui", str(bad), "--run"]) == 2


def test_bad_speed_is_exit_2() -> None:
    assert main(["tui", str(SPECS / "course-crud.toml"), "--speed", "0"]) == 2


def test_unknown_theme_is_exit_2_and_names_the_known_ones(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tui", str(SPECS / "course-crud.toml"), "--theme", "neon"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "unknown theme 'neon'" in err and "dark" in err and "high-contrast" in err


def test_help_does_not_import_textual() -> None:
    code = "import sys; from oneie_tui.cli import build_parser; build_parser(); print('textual' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_last_spec_is_remembered(tmp_path: Path) -> None:
    assert last_spec() is None
    spec = tmp_path / "mine.toml"
    spec.write_text("x = 1", encoding="utf-8")
    remember_last_spec(spec)
    assert last_spec() == spec.resolve()
    spec.unlink()
    assert last_spec() is None


def test_config_keymap_and_problems() -> None:
    cfg = config_file()
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text('theme = "light"\ncolour = 1\n[keymap]\npause = "x"\ncancel = ["k", "f2"]\nzoom = 3\n', encoding="utf-8")
    config, problems = load_config()
    assert config.theme == "light"
    assert config.keymap == {"pause": "x", "cancel": "k,f2"}
    assert any("'colour'" in p for p in problems)
    assert any("keymap.zoom" in p for p in problems)


def test_broken_config_is_a_problem_not_a_crash() -> None:
    cfg = config_file()
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text("theme = \n", encoding="utf-8")
    config, problems = load_config()
    assert config.keymap == {} and problems and "TOML syntax" in problems[0]


def test_bundled_themes_load() -> None:
    themes, problems = load_themes()
    assert problems == []
    names = {t.name for t in themes}
    assert {"dark", "light", "high-contrast"} <= names
    light = next(t for t in themes if t.name == "light")
    assert light.dark is False and "agent-1" in light.variables


def test_theme_errors_name_the_problem() -> None:
    for text, fragment in [
        ("primary = 'nope'", "not a colour"),
        ("name = 'x'", "'primary' is required"),
        ("primary = '#fff'\nshade = 1", "unknown key"),
        ("primary = ", "TOML syntax"),
    ]:
        try:
            parse_theme(text, "t")
        except ThemeFileError as exc:
            assert fragment in str(exc)
        else:
            raise AssertionError(text)


def test_tcss_uses_theme_variables_only() -> None:
    import re

    root = Path(__file__).resolve().parents[2] / "oneie_tui" / "ui"
    for path in [*root.rglob("*.tcss"), *root.rglob("*.py")]:
        text = path.read_text(encoding="utf-8")
        for css in re.findall(r'DEFAULT_CSS = """(.*?)"""', text, re.S) if path.suffix == ".py" else [text]:
            assert not re.search(r"#[0-9a-fA-F]{3,8}\b", css), path
            assert not re.search(r"\b(rgb|hsl)a?\(", css), path
