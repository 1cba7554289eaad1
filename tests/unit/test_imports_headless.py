"""The headless path never loads Textual or the Anthropic SDK: checked in a fresh process."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import SPECS

PROBE = """
import contextlib, io, json, sys
from oneie_tui.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    try:
        code = main(sys.argv[1:])
    except SystemExit as exc:
        code = exc.code
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("textual", "anthropic") or m.startswith("oneie_tui.ui"))
print(json.dumps({"code": code, "heavy": heavy, "out": out.getvalue()[-2000:]}))
"""


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["validate", str(SPECS / "course-crud.toml")],
        ["run", str(SPECS / "course-crud.toml"), "--headless", "--json", "--speed", "40"],
        ["run", str(SPECS / "failure-cascade.toml"), "--headless", "--speed", "40"],
        ["schema"],
        ["plan", str(SPECS / "workflow.toml")],
    ],
    ids=["help", "validate", "run-json", "run-progress", "schema", "plan"],
)
def test_headless_commands_do_not_load_textual_or_anthropic(argv: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, timeout=60
    )
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["heavy"] == [], result["heavy"][:10]
    assert result["code"] in (0, 1), done.stderr  # failure-cascade exits 1 by design
    assert result["out"]  # it really did its work


def test_the_engine_modules_never_import_textual() -> None:
    engine = [
        "oneie_tui.spec.model", "oneie_tui.spec.loader", "oneie_tui.events", "oneie_tui.engine.runner",
        "oneie_tui.store.sqlite", "oneie_tui.views.metrics", "oneie_tui.views.run_view", "oneie_tui.engine.session",
        "oneie_tui.commands.headless", "oneie_tui.agents.sim", "oneie_tui.cli",
    ]
    code = (
        "import importlib, json, sys\n"
        f"for m in {engine!r}: importlib.import_module(m)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'anthropic'))))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert json.loads(done.stdout) == [], done.stderr
