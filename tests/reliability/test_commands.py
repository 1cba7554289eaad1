"""Commands never go through a shell: arguments such as `; touch pwned`, `$(touch pwned)`
and backticks stay literal and no file `pwned` appears; ruff's S602/S604/S605 (subprocess
or call with shell=True, os.system-style calls) report nothing in the package (issue 7,
item 9)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.reliability.helpers import no_traceback, oneie

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = [
    "; touch pwned",
    "$(touch pwned)",
    "`touch pwned`",
    "&& touch pwned",
    "| touch pwned",
    "pwned > pwned",
    "'; touch pwned; '",
    '"$(touch pwned)"',
    "\n touch pwned",
]
ECHO = "import sys, json; print(json.dumps(sys.argv[1:]))"


def _spec(path: Path, argv: list[str], task: str = "echo") -> Path:
    lines = [
        '[feature]\nname = "literal args"\n',
        '[run]\nbackend = "command"\n',
        f'[[agents]]\nid = "echo"\ntask = {json.dumps(task)}\ncommand = {{ argv = {json.dumps(argv)} }}\n',
    ]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _no_pwned(*folders: Path) -> None:
    for folder in folders:
        assert not list(folder.rglob("pwned")), f"a shell ran: {list(folder.rglob('pwned'))}"


def test_hostile_arguments_stay_literal(tmp_path: Path) -> None:
    spec = _spec(tmp_path / "spec.toml", [sys.executable, "-c", ECHO, *HOSTILE], task="$(touch pwned) `touch pwned`")
    result = oneie("run", str(spec), "--headless", "--json", "--store", str(tmp_path / "runs.sqlite3"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    outputs = [
        e["metadata"]["text"] for e in map(json.loads, result.stdout.splitlines()[:-1])
        if e["type"] == "agent_output" and e["actor"] == "echo"
    ]
    assert json.loads(outputs[0]) == HOSTILE  # every argument arrived byte for byte
    _no_pwned(tmp_path, ROOT)


@pytest.mark.parametrize("program", ["; touch pwned", "$(touch pwned)", "`touch pwned`", "sh -c 'touch pwned'"])
def test_hostile_program_name_is_not_run_through_a_shell(tmp_path: Path, program: str) -> None:
    spec = _spec(tmp_path / "spec.toml", [program])
    result = oneie("run", str(spec), "--headless", "--store", str(tmp_path / "runs.sqlite3"), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert no_traceback(result.stderr) and "not found on PATH" in result.stderr
    _no_pwned(tmp_path, ROOT)


def test_ruff_finds_no_shell_calls() -> None:
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    assert ruff is not None, "ruff is a dev dependency"
    result = subprocess.run(
        [ruff, "check", "--no-cache", "--select", "S602,S604,S605", "--output-format", "concise", "oneie_tui"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All checks passed" in result.stdout
