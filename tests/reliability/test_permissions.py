"""Under umask 000 the store's folder is 0700 and its files 0600 (issue 7, item 11)."""

from __future__ import annotations

import stat
from pathlib import Path

from tests.reliability.helpers import oneie

ROOT = Path(__file__).resolve().parents[2]


def test_store_is_private_under_umask_000(tmp_path: Path) -> None:
    store = tmp_path / "fresh" / "nested" / "runs.sqlite3"
    import subprocess
    import sys

    code = (
        "import os, sys; os.umask(0); from oneie_tui.cli import main; "
        f"sys.exit(main(['run', {str(ROOT / 'specs/auth-system.toml')!r}, '--headless', '--json', "
        f"'--speed', '20', '--store', {str(store)!r}]))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(store.parent.stat().st_mode) == 0o700
    files = [p for p in store.parent.iterdir()]
    assert store in files
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    # And it is still readable by its owner through the CLI.
    listing = oneie("runs", "--json", "--store", str(store))
    assert listing.returncode == 0 and '"status": "completed"' in listing.stdout


def test_dashboard_log_is_private_under_umask_000(isolated_dirs: Path) -> None:
    import logging
    import os

    from oneie_tui import paths
    from oneie_tui.ui.app import setup_file_logging

    old = os.umask(0)
    try:
        target = setup_file_logging()
    finally:
        os.umask(old)
    assert target is not None and target.parent == paths.log_dir().absolute()
    assert stat.S_IMODE(target.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    for handler in logging.getLogger("oneie").handlers[:]:  # leave no handler behind
        logging.getLogger("oneie").removeHandler(handler)
        handler.close()
