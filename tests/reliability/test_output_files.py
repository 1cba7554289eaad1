"""Export and every file we write (issue 12, item 2): never over the store, whole or not
at all on a full disk (a real 64 KiB tmpfs), and stdout on a full disk (/dev/full) is
survived like a closed pipe."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.reliability.helpers import PYTHON, no_traceback, oneie, streaming_spec
from tests.reliability.test_store_ownership import UNSHARE

ROOT = Path(__file__).resolve().parents[2]
SPEC = str(ROOT / "specs/auth-system.toml")


def _store_with_a_run(tmp_path: Path, big: bool = False) -> Path:
    store = tmp_path / "store" / "runs.db"
    spec = streaming_spec(tmp_path / "big.toml", agents=2, duration=1.0, lines_per_second=400) if big else SPEC
    done = oneie("run", str(spec), "--json", "--speed", "40" if not big else "1", "--store", str(store))
    assert done.returncode == 0, done.stderr
    return store


def _intact(store: Path) -> int:
    conn = sqlite3.connect(store)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        return int(conn.execute("SELECT COUNT(*) FROM events").fetchone()[0])
    finally:
        conn.close()


def _stderr_line(result: subprocess.CompletedProcess[str]) -> str:
    assert no_traceback(result.stderr), result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_export_refuses_to_write_over_the_store_or_its_wal_and_shm(tmp_path: Path) -> None:
    store = _store_with_a_run(tmp_path)
    events = _intact(store)
    link = tmp_path / "hardlink.db"
    os.link(store, link)
    spellings = [store, Path(f"{store}-wal"), Path(f"{store}-shm"), link,
                 store.parent / ".." / "store" / "runs.db"]
    for target in spellings:
        result = oneie("export", "last", "--store", str(store), "-o", str(target))
        assert result.returncode == 2, (target, result.stderr)
        assert "run store" in _stderr_line(result)
        assert _intact(store) == events  # the old code truncated the store before reading it
    listing = oneie("runs", "--json", "--store", str(store))
    assert listing.returncode == 0 and '"completed"' in listing.stdout


def test_export_writes_through_a_temporary_file_and_rename(tmp_path: Path) -> None:
    store = _store_with_a_run(tmp_path)
    target = tmp_path / "out" / "run.jsonl"
    target.parent.mkdir()
    target.write_text("previous export\n")
    before = target.stat().st_ino
    result = oneie("export", "last", "--store", str(store), "-o", str(target))
    assert result.returncode == 0, result.stderr
    assert target.stat().st_ino != before  # a new file renamed into place, not rewritten
    assert target.read_text().startswith('{"record":"run"')
    assert sorted(p.name for p in target.parent.iterdir()) == ["run.jsonl"]  # no temp left


@pytest.mark.skipif(not UNSHARE, reason="needs root and unshare --mount for a small tmpfs")
@pytest.mark.parametrize("fmt", ["jsonl", "md"])
def test_export_to_a_full_disk_is_one_line_exit_1_and_nothing_half_written(tmp_path: Path, fmt: str) -> None:
    store = _store_with_a_run(tmp_path, big=True)
    full = tmp_path / "full"
    full.mkdir()
    cli = f"'{PYTHON}' -m oneie_tui export last --format {fmt} --store '{store}' -o '{full}/run.out'"
    # A 64 KiB tmpfs in a private mount namespace: the export (hundreds of KiB) cannot fit.
    script = (
        f"mount -t tmpfs -o size=64k tmpfs '{full}' && printf 'old export\\n' > '{full}/run.out' && "
        f"{cli}; code=$?; echo \"code=$code\"; ls -A '{full}'; cat '{full}/run.out'"
    )
    result = subprocess.run([*UNSHARE, "sh", "-c", script], capture_output=True, text=True, timeout=120,
                            env={**os.environ})
    out = result.stdout.splitlines()
    assert "code=1" in out, (result.stdout, result.stderr)
    line = _stderr_line(result)
    assert "No space left on device" in line and "run.out" in line
    rest = out[out.index("code=1") + 1 :]
    assert rest == ["run.out", "old export"]  # no temp file, the old file untouched


def test_export_to_a_full_stdout_is_one_line_and_exit_1(tmp_path: Path) -> None:
    store = _store_with_a_run(tmp_path)
    with open("/dev/full", "w") as full:
        result = subprocess.run([PYTHON, "-m", "oneie_tui", "export", "last", "--store", str(store)],
                                stdout=full, stderr=subprocess.PIPE, text=True, timeout=60)
    assert result.returncode == 1
    assert "No space left on device" in _stderr_line(result)


@pytest.mark.parametrize("mode", ["--json", "--headless"])
def test_a_run_with_stdout_on_a_full_disk_goes_on_and_is_recorded(tmp_path: Path, mode: str) -> None:
    store = tmp_path / "runs.db"
    with open("/dev/full", "w") as full:
        result = subprocess.run(
            [PYTHON, "-m", "oneie_tui", "run", SPEC, mode, "--speed", "40", "--store", str(store)],
            stdout=full, stderr=subprocess.PIPE, text=True, timeout=60,
        )
    assert result.returncode == 0, result.stderr
    assert "output lost (No space left on device)" in _stderr_line(result)
    listing = oneie("runs", "--json", "--store", str(store))
    assert '"status": "completed"' in listing.stdout
    shown = oneie("show", "last", "--json", "--store", str(store))
    assert shown.returncode == 0 and '"events"' in shown.stdout


@pytest.mark.skipif(not UNSHARE, reason="needs root and unshare --mount for a small tmpfs")
def test_oneie_new_on_a_full_disk_leaves_nothing_half_written(tmp_path: Path) -> None:
    full = tmp_path / "full"
    full.mkdir()
    cli = f"cd '{full}' && '{PYTHON}' -m oneie_tui new 'Course CRUD'"
    # Fill the tmpfs to the last block, then ask for a spec there.
    script = (
        f"mount -t tmpfs -o size=64k tmpfs '{full}' && (cat /dev/zero > '{full}/filler' 2>/dev/null; true) && "
        f"{cli}; code=$?; echo \"code=$code\"; ls -A '{full}'"
    )
    result = subprocess.run([*UNSHARE, "sh", "-c", script], capture_output=True, text=True, timeout=60,
                            env={**os.environ})
    out = result.stdout.splitlines()
    assert "code=1" in out, (result.stdout, result.stderr)
    assert "No space left on device" in _stderr_line(result)
    assert out[out.index("code=1") + 1 :] == ["filler"]  # no course-crud.toml, empty or partial
