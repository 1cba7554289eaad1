"""Theme files (`themes/*.toml`, and the user's in `paths.user_themes_dir()`) → Textual themes.

A theme file names its colours (hex or any colour Textual parses) and may add CSS
variables, such as the `agent-N` palette used for agents whose spec gives no colour.
A broken file becomes a `ThemeProblem` (file and reason) for the app to show, never a crash.
Textual is imported inside the functions: nothing outside `oneie_tui/ui/` imports it at load.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from oneie_tui import paths
from oneie_tui.trust.bounded_read import TooLarge, read_bounded

if TYPE_CHECKING:
    from textual.theme import Theme

COLOR_KEYS = (
    "primary", "secondary", "accent", "warning", "error", "success",
    "foreground", "background", "surface", "panel", "boost",
)
ALLOWED_KEYS = frozenset({"name", "dark", "variables", *COLOR_KEYS})
DEFAULT_THEME = "dark"
MAX_THEME_BYTES = 64 * 1024
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$")
_VAR_RE = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")
_TEXT_STYLES = frozenset({"bold", "italic", "underline", "reverse", "strike", "dim", "none", "not"})


@dataclass(frozen=True)
class ThemeProblem:
    path: Path
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class ThemeFileError(Exception):
    pass


def parse_theme(text: str, fallback_name: str) -> Theme:
    """Build a Textual `Theme` from TOML text. Raises `ThemeFileError` with one line."""
    from textual.color import Color, ColorParseError
    from textual.theme import Theme

    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ThemeFileError(f"TOML syntax: {exc}") from None
    unknown = sorted(set(data) - ALLOWED_KEYS)
    if unknown:
        raise ThemeFileError(f"unknown key {unknown[0]!r} (known: {', '.join(sorted(ALLOWED_KEYS))})")
    if "primary" not in data:
        raise ThemeFileError("'primary' is required")
    colors: dict[str, str] = {}
    for key in COLOR_KEYS:
        if key in data:
            value = data[key]
            if not isinstance(value, str):
                raise ThemeFileError(f"{key}: expected a colour string, got {value!r}")
            try:
                Color.parse(value)
            except ColorParseError:
                raise ThemeFileError(f"{key}: {value!r} is not a colour") from None
            colors[key] = value
    name = data.get("name", fallback_name)
    if not isinstance(name, str) or not _NAME_RE.match(name.strip()):
        raise ThemeFileError("name: expected letters, digits, spaces, '.', '_' or '-' (at most 64)")
    dark = data.get("dark", True)
    if not isinstance(dark, bool):
        raise ThemeFileError("dark: expected true or false")
    variables = data.get("variables", {})
    if not isinstance(variables, dict) or not all(isinstance(v, str) for v in variables.values()):
        raise ThemeFileError("[variables]: expected name = \"value\" strings")
    for var, value in variables.items():
        _check_variable(var, value, Color, ColorParseError)
    return Theme(
        name=name.strip(),
        dark=dark,
        variables=dict(variables),
        primary=colors["primary"],
        secondary=colors.get("secondary"),
        accent=colors.get("accent"),
        warning=colors.get("warning"),
        error=colors.get("error"),
        success=colors.get("success"),
        foreground=colors.get("foreground"),
        background=colors.get("background"),
        surface=colors.get("surface"),
        panel=colors.get("panel"),
        boost=colors.get("boost"),
    )


def _check_variable(var: str, value: str, color: Any, parse_error: type[Exception]) -> None:
    """A theme file is data: a variable is a CSS name whose value is a colour (or, for a
    `*-text-style` variable, style words), never anything Textual would parse as more."""
    if not _VAR_RE.match(var):
        raise ThemeFileError(f"[variables]: {var[:40]!r} is not a variable name (letters, digits, '-')")
    if var.endswith("-text-style"):
        if not value.split() or not set(value.split()) <= _TEXT_STYLES:
            raise ThemeFileError(f"[variables] {var}: {value[:40]!r} is not a text style")
        return
    try:
        color.parse(value)
    except parse_error:
        raise ThemeFileError(f"[variables] {var}: {value[:40]!r} is not a colour") from None


def load_theme_file(path: Path) -> Theme:
    try:
        text = read_bounded(path, MAX_THEME_BYTES).decode("utf-8")
    except (OSError, UnicodeDecodeError, TooLarge) as exc:
        raise ThemeFileError(f"cannot read: {exc}") from None
    return parse_theme(text, path.stem)


def theme_files() -> list[Path]:
    """Bundled themes first, then the user's (a user theme of the same name wins)."""
    found: list[Path] = []
    for folder in (paths.bundled_dir("themes"), paths.user_themes_dir()):
        if folder.is_dir():
            found.extend(sorted(folder.glob("*.toml")))
    return found


def load_themes() -> tuple[list[Theme], list[ThemeProblem]]:
    themes: dict[str, Theme] = {}
    problems: list[ThemeProblem] = []
    for path in theme_files():
        try:
            theme = load_theme_file(path)
        except ThemeFileError as exc:
            problems.append(ThemeProblem(path, str(exc)))
            continue
        themes[theme.name] = theme
    return list(themes.values()), problems
