"""The dependency rules of the tree (docs/architecture.md), checked on every module the
package has: the walk finds them, no list is kept by hand.

Imports are read from the source with `ast`: module-level ones and those inside functions
(lazy imports are still dependencies), but not those under `if TYPE_CHECKING:`, which
never run. A wing is a top-level package (`spec`, `engine`, ...) or a top-level module.
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "oneie_tui"

# Floors, lowest first. A wing may import its own floor's wings only where ALLOWED_SIDEWAYS
# says so, and any lower floor's, never a higher one's.
FLOORS: list[set[str]] = [
    {"oneie_tui", "events", "trust", "paths"},
    {"spec", "config", "logsetup", "themes", "store", "atomicfile", "git"},
    {"agents", "views", "notify"},
    {"land"},
    {"engine"},
    {"ui"},
    {"commands"},
    {"cli"},
    {"__main__"},
]
ALLOWED_SIDEWAYS = {("logsetup", "config"), ("themes", "config")}
# The lowest wings are narrower still than their floor (the rules, word for word).
ONLY: dict[str, set[str]] = {
    "events": set(),
    "spec": {"events", "trust"},
}
NEVER: dict[str, set[str]] = {
    "store": {"engine", "agents", "views", "ui", "commands", "land"},
    "views": {"engine", "agents", "ui", "commands", "land"},
    "agents": {"engine", "store", "views", "ui", "commands", "land"},
    "land": {"engine", "ui", "commands"},
}


@dataclass(frozen=True)
class Import:
    source: str  # importing module, dotted
    target: str  # imported module, dotted
    line: int
    load_time: bool  # at module level (runs on import), not inside a function


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(name: str, path: Path, known: set[str]) -> list[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[Import] = []

    def resolve(base: str, names: list[str]) -> list[str]:
        # `from a.b import c` names module a.b.c when that is a module, else a.b
        out = [f"{base}.{n}" for n in names if f"{base}.{n}" in known]
        return out or [base]

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for other in child.orelse:
                    visit(other, in_function)
                continue
            nested = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.Import):
                for alias in child.names:
                    if alias.name.split(".")[0] == "oneie_tui":
                        found.append(Import(name, alias.name, child.lineno, not in_function))
                    elif alias.name.split(".")[0] == "textual":
                        found.append(Import(name, alias.name, child.lineno, not in_function))
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    up = package.split(".")[: len(package.split(".")) - child.level + 1]
                    base = ".".join(up + ([child.module] if child.module else []))
                else:
                    base = child.module or ""
                top = base.split(".")[0]
                if top in ("oneie_tui", "textual"):
                    for target in resolve(base, [a.name for a in child.names]):
                        found.append(Import(name, target, child.lineno, not in_function))
            visit(child, nested)

    visit(tree, False)
    return found


def all_imports() -> list[Import]:
    mods = modules()
    known = set(mods)
    return [imp for name, path in mods.items() for imp in imports_of(name, path, known)]


def wing(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "oneie_tui"


def floor_of(w: str) -> int:
    for i, floor in enumerate(FLOORS):
        if w in floor:
            return i
    raise AssertionError(f"wing {w!r} has no floor: add it to FLOORS and docs/architecture.md")


def wing_violations(imports: list[Import]) -> list[str]:
    out = []
    for imp in imports:
        if imp.target.split(".")[0] != "oneie_tui" or imp.target == "oneie_tui":
            continue
        src, dst = wing(imp.source), wing(imp.target)
        if src == dst:
            continue
        where = f"{imp.source} (line {imp.line}) imports {imp.target}"
        if src in ONLY and dst not in ONLY[src]:
            out.append(f"{where}: {src} may import only {sorted(ONLY[src]) or 'nothing of the package'}")
        elif dst in NEVER.get(src, set()):
            out.append(f"{where}: {src} never imports {dst}")
        elif floor_of(dst) > floor_of(src):
            out.append(f"{where}: an import up the layers ({src} is below {dst})")
        elif floor_of(dst) == floor_of(src) and (src, dst) not in ALLOWED_SIDEWAYS:
            out.append(f"{where}: {src} and {dst} share a floor; neither imports the other")
    return out


def cycles(imports: list[Import]) -> list[list[str]]:
    graph: dict[str, set[str]] = {}
    known = set(modules())
    for imp in imports:
        if imp.target in known and imp.target != imp.source:
            graph.setdefault(imp.source, set()).add(imp.target)
    # Tarjan's strongly connected components; any component of two or more is a circle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for v in sorted(graph):
        if v not in index:
            strong(v)
    return found


def test_the_walk_finds_every_module() -> None:
    mods = modules()
    on_disk = {p for p in PACKAGE.rglob("*.py")}
    assert set(mods.values()) == on_disk
    for name in mods:  # every module imports, so the walk's names are the real ones
        if name != "oneie_tui.__main__":  # importing it runs the command
            importlib.import_module(name)


def test_every_wing_has_a_floor() -> None:
    for name in modules():
        floor_of(wing(name))


def test_no_import_runs_against_the_layers() -> None:
    assert wing_violations(all_imports()) == []


def test_no_import_circles() -> None:
    assert cycles(all_imports()) == []


def test_nothing_outside_ui_imports_textual_at_load_time() -> None:
    offenders = [
        f"{i.source} (line {i.line})"
        for i in all_imports()
        if i.target.split(".")[0] == "textual" and i.load_time and wing(i.source) != "ui"
    ]
    assert offenders == []


@pytest.mark.parametrize(
    ("source", "text", "expected"),
    [
        ("store/sqlite.py", "from oneie_tui.engine.runner import Runner\n", "store never imports engine"),
        ("events.py", "from oneie_tui.trust.redact import redact\n", "events may import only nothing"),
        ("spec/model.py", "from oneie_tui.store.sqlite import RunStore\n", "spec may import only"),
        ("engine/runner.py", "def f():\n    from oneie_tui.ui.app import OneieApp\n", "up the layers"),
        ("views/metrics.py", "import textual\n", None),
    ],
)
def test_the_rules_catch_an_upward_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str, text: str, expected: str | None
) -> None:
    """The checker itself: one planted import of each kind is reported."""
    fake = tmp_path / "oneie_tui"
    for path in PACKAGE.rglob("*.py"):
        target = fake / path.relative_to(PACKAGE)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    planted = fake / source
    planted.write_text(planted.read_text(encoding="utf-8") + "\n" + text, encoding="utf-8")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake)
    if expected is None:
        assert any(
            i.source == "oneie_tui.views.metrics" and i.target == "textual" and i.load_time
            for i in all_imports()
        )
    else:
        assert any(expected in v for v in wing_violations(all_imports()))


def test_help_loads_neither_textual_nor_anthropic() -> None:
    code = (
        "import sys, contextlib, io\n"
        "from oneie_tui.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try: main(['--help'])\n"
        "    except SystemExit: pass\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'textual', 'anthropic'}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "[]", done.stderr
