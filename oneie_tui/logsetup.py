"""Debug logging for any command: `oneie --debug ...` or `ONEIE_LOG_LEVEL=DEBUG`.

Logs go to a file under `paths.log_dir()` (the folder 0700, the file 0600), never to the
terminal, and every record passes through `redact` first, so a key in a request header or
an exception message never reaches the file.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from oneie_tui import paths
from oneie_tui.trust import redact

LEVEL_ENV = "ONEIE_LOG_LEVEL"
LOG_FILE = "oneie.log"


def wanted_level(debug_flag: bool) -> int | None:
    """The level asked for by `--debug` or ONEIE_LOG_LEVEL (a name or a number), or None."""
    if debug_flag:
        return logging.DEBUG
    raw = os.environ.get(LEVEL_ENV, "").strip()
    if not raw:
        return None
    if raw.isdigit():
        return int(raw)
    level = logging.getLevelName(raw.upper())
    return level if isinstance(level, int) else logging.DEBUG


def file_handler(name: str) -> logging.FileHandler | None:
    """A handler appending to `name` in the log folder (the folder 0700, the file 0600),
    with every record redacted first; None when the folder cannot be written."""
    redact.install()
    try:
        folder = paths.log_dir()
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        target = folder / name
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.close(fd)
        handler = logging.FileHandler(target, encoding="utf-8")
    except OSError:
        return None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(redact.RedactingFilter())  # also if the record factory was replaced
    return handler


def configure(level: int) -> Path | None:
    """Send every logger's records at `level` and above to the log file. Idempotent."""
    root = logging.getLogger()
    root.setLevel(level)
    if any(getattr(h, "_oneie_debug", False) for h in root.handlers):
        return None
    handler = file_handler(LOG_FILE)
    if handler is None:
        return None
    target = Path(handler.baseFilename)
    handler._oneie_debug = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    return target
