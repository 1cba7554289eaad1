"""The store owns only what it creates (issue 12, item 1).

Real files, folders and device nodes: a 1777 folder, `mknod` copies of /dev/null (never
the real one), a FIFO, symlinks, a read-only bind mount (in a private mount namespace, so
nothing leaks to the machine), and a store deleted under a live run."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.reliability.helpers import no_traceback, oneie, spawn_oneie, streaming_spec

ROOT = Path(__file__).resolve().parents[2]
SPEC = str(ROOT / "specs/auth-system.toml")
IS_ROOT = os.geteuid() == 0


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert no_traceback(result.stderr), result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def _record_run(store: Path) -> None:
    done = oneie("run", SPEC, "--json", "--speed", "40", "--store", str(store))
    assert done.returncode == 0, done.stderr


def test_store_in_a_sticky_world_writable_folder_leaves_the_folder_alone(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)  # like /tmp
    store = shared / "runs.db"
    _record_run(store)
    assert _mode(shared) == 0o1777  # the old code made it 0700: sticky and world bits gone
    assert _mode(store) == 0o600
    for side in (Path(f"{store}-wal"), Path(f"{store}-shm")):
        if side.exists():
            assert _mode(side) == 0o600


def test_existing_folders_keep_their_mode_and_only_created_ones_are_0700(tmp_path: Path) -> None:
    existing = tmp_path / "mine"
    existing.mkdir()
    os.chmod(existing, 0o755)
    store = existing / "new" / "deeper" / "runs.db"
    code = (
        "import os, sys; os.umask(0); from oneie_tui.cli import main; "
        f"sys.exit(main(['runs', '--store', {str(store)!r}]))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert _mode(existing) == 0o755
    assert _mode(existing / "new") == 0o700
    assert _mode(existing / "new" / "deeper") == 0o700
    assert _mode(store) == 0o600


@pytest.mark.skipif(not IS_ROOT, reason="mknod needs root")
def test_a_device_is_refused_and_neither_it_nor_its_folder_changes(tmp_path: Path) -> None:
    dev = tmp_path / "dev"
    dev.mkdir()
    os.chmod(dev, 0o755)
    null = dev / "null"
    os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # a copy of /dev/null
    os.chmod(null, 0o666)
    result = oneie("runs", "--store", str(null))
    assert result.returncode == 1
    line = _one_error_line(result)
    assert str(null) in line and "device" in line
    assert _mode(dev) == 0o755  # the old code made /dev 0700 ...
    assert _mode(null) == 0o666  # ... and /dev/null 0600
    assert stat.S_ISCHR(os.lstat(null).st_mode)
    assert sorted(p.name for p in dev.iterdir()) == ["null"]  # no -wal / -shm beside it


def test_a_fifo_and_a_folder_are_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo, 0o644)
    os.chmod(fifo, 0o644)
    folder = tmp_path / "afolder"
    folder.mkdir()
    os.chmod(folder, 0o755)
    for target, word in ((fifo, "FIFO"), (folder, "folder")):
        result = oneie("runs", "--store", str(target), timeout=20)  # a FIFO open would hang
        assert result.returncode == 1
        assert word in _one_error_line(result)
    assert _mode(fifo) == 0o644 and stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert _mode(folder) == 0o755 and list(folder.iterdir()) == []


def test_a_symlink_is_refused_before_its_target_is_touched(tmp_path: Path) -> None:
    target = tmp_path / "someone-elses.db"
    target.write_text("not ours")
    os.chmod(target, 0o644)
    link = tmp_path / "runs.db"
    link.symlink_to(target)
    targets = [target]
    if IS_ROOT:
        dev = tmp_path / "devnull-copy"
        os.mknod(dev, stat.S_IFCHR | 0o666, os.makedev(1, 3))
        os.chmod(dev, 0o666)
        devlink = tmp_path / "dev.db"
        devlink.symlink_to(dev)
        targets.append(dev)
    for path in [link] + ([tmp_path / "dev.db"] if IS_ROOT else []):
        result = oneie("runs", "--store", str(path))
        assert result.returncode == 1
        assert "symlink" in _one_error_line(result)
    assert _mode(target) == 0o644 and target.read_text() == "not ours"
    if IS_ROOT:
        assert _mode(targets[1]) == 0o666
    assert not Path(f"{target}-wal").exists() and not Path(f"{link}-wal").exists()


def _unshare() -> list[str]:
    exe = shutil.which("unshare")
    if not IS_ROOT or exe is None:
        return []
    probe = subprocess.run([exe, "--mount", "--propagation", "private", "true"], capture_output=True)
    return [exe, "--mount", "--propagation", "private"] if probe.returncode == 0 else []


UNSHARE = _unshare()


@pytest.mark.skipif(not UNSHARE, reason="needs root and unshare --mount for a read-only bind mount")
def test_reading_commands_work_on_read_only_media(tmp_path: Path) -> None:
    src = tmp_path / "src"
    store = src / "runs.db"
    _record_run(store)
    ro = tmp_path / "ro"
    ro.mkdir()
    ro_store = ro / "runs.db"
    before = {p.name: (_mode(p), p.stat().st_mtime_ns) for p in src.iterdir()}

    def in_ro(*args: str) -> subprocess.CompletedProcess[str]:
        # The mount lives only in this private namespace: nothing outside sees it.
        cli = " ".join(f"'{a}'" for a in [sys.executable, "-m", "oneie_tui", *args])
        script = f"mount --bind '{src}' '{ro}' && mount -o remount,bind,ro '{ro}' && exec {cli}"
        return subprocess.run([*UNSHARE, "sh", "-c", script], capture_output=True, text=True,
                              timeout=60, env={**os.environ})

    probe = in_ro("--help")
    assert probe.returncode == 0, probe.stderr
    listed = in_ro("runs", "--json", "--store", str(ro_store))
    assert listed.returncode == 0, listed.stderr
    assert '"status": "completed"' in listed.stdout
    shown = in_ro("show", "last", "--json", "--store", str(ro_store))
    assert shown.returncode == 0, shown.stderr
    exported = in_ro("export", "last", "--store", str(ro_store))
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout.startswith('{"record":"run"')
    # A writing command says so in one line.
    refused = in_ro("run", SPEC, "--json", "--store", str(ro_store))
    assert refused.returncode == 1
    assert "read-only" in _one_error_line(refused)
    after = {p.name: (_mode(p), p.stat().st_mtime_ns) for p in src.iterdir()}
    assert after == before


def test_a_store_deleted_under_a_live_run_stops_it_with_one_line(tmp_path: Path) -> None:
    store = tmp_path / "runs.db"
    spec = streaming_spec(tmp_path / "spec.toml", agents=3, duration=6.0, lines_per_second=50)
    proc = spawn_oneie("run", str(spec), "--headless", "--store", str(store))
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not Path(f"{store}-wal").exists():
            time.sleep(0.05)
        time.sleep(0.5)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{store}{suffix}").unlink(missing_ok=True)
        deleted = time.monotonic()
        _out, err = proc.communicate(timeout=20)
        stopped = time.monotonic() - deleted
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    print(f"\nFIGURE deleted store: stopped {stopped:.2f} s after the delete")
    assert proc.returncode == 1, err
    assert stopped < 3.0  # the run would have streamed for about 5 s more
    assert no_traceback(err)
    lines = [line for line in err.splitlines() if "deleted" in line]
    assert len(lines) == 1, err
    assert str(store) in lines[0]
