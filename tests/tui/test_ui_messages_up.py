"""The UI follows "attributes down, messages up": no screen or widget imports the app at
run time (a `TYPE_CHECKING` import is fine), and no widget reads its screen or app by
attribute name with `getattr`. Walks the packages, so a new module cannot be left out."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

UI = Path(__file__).resolve().parents[2] / "oneie_tui" / "ui"
MODULES = sorted([*(UI / "screens").glob("*.py"), *(UI / "widgets").glob("*.py")])


def _runtime_imports(tree: ast.Module) -> set[str]:
    found: set[str] = set()
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped |= {id(n) for n in ast.walk(node)}
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
    return found


def _getattr_of_screen_or_app(tree: ast.Module) -> list[str]:
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr" \
                and node.args and ast.unparse(node.args[0]) in ("self.screen", "self.app"):
            bad.append(ast.unparse(node))
    return bad


def test_the_walk_finds_the_screens_and_widgets() -> None:
    names = {p.stem for p in MODULES}
    assert {"dashboard", "agent", "history", "replay", "picker", "agent_panel", "spec_editor"} <= names


@pytest.mark.parametrize("path", MODULES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_screen_or_widget_imports_the_app_or_getattrs_its_parents(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imports = _runtime_imports(tree)
    assert "oneie_tui.ui.app" not in imports, f"{path.name} imports oneie_tui.ui.app at run time"
    assert not (imports & {"oneie_tui.ui.OneieApp", "oneie_tui.ui.app.OneieApp"})
    assert _getattr_of_screen_or_app(tree) == [], f"{path.name} reads its screen/app with getattr"
