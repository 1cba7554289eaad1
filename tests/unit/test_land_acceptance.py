"""Acceptance checks run like command agents: no shell, bounded, the whole group ended."""

from __future__ import annotations

import time
from pathlib import Path

import anyio

from oneie_tui.land.acceptance import TAIL_CHARS, run_check
from oneie_tui.spec.model import AcceptanceCheck
from tests.fakes.process_tools import PY, alive

SLEEPER = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
print(child.pid, flush=True)
time.sleep(60)
"""


def test_a_check_that_runs_too_long_is_ended_with_its_children(tmp_path: Path) -> None:
    check = AcceptanceCheck(text="never ends", check=[PY, "-c", SLEEPER], timeout=1.0)
    started = time.monotonic()
    result = anyio.run(run_check, check, tmp_path)
    assert time.monotonic() - started < 15
    assert not result.passed and result.exit_code is None and result.error == "timed out after 1s"
    child = int(result.output_tail.split()[0])
    assert alive([child]) == []


def test_output_tail_is_bounded_and_exit_code_kept(tmp_path: Path) -> None:
    code = "import sys; print('x' * 100000); print('the end'); sys.exit(3)"
    result = anyio.run(run_check, AcceptanceCheck(text="loud", check=[PY, "-c", code]), tmp_path)
    assert not result.passed and result.exit_code == 3
    assert len(result.output_tail) <= TAIL_CHARS and result.output_tail.endswith("the end")


def test_a_missing_program_is_a_failed_check_not_a_crash(tmp_path: Path) -> None:
    result = anyio.run(run_check, AcceptanceCheck(text="gone", check=["no-such-program-here"]), tmp_path)
    assert not result.passed and "cannot run no-such-program-here" in result.error
