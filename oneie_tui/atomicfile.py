"""Files written whole or not at all: a temporary file beside the target, renamed into
place only once every byte is on disk. A full disk, a crash or an error half-way leave
the target as it was (or absent) and no temporary file behind."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO


@contextlib.contextmanager
def atomic_text_file(target: str | os.PathLike[str], mode: int = 0o600) -> Iterator[TextIO]:
    """Yield a text file to write; on a clean exit it replaces `target`. `mode` (with the
    umask applied for anything looser than 0600): 0600 by default, since an export holds
    agent output. OSError (ENOSPC, EACCES...) propagates after clean-up."""
    path = Path(target)
    fd, temp = tempfile.mkstemp(dir=path.parent or ".", prefix=f".{path.name}.", suffix=".part")
    try:
        if mode != 0o600:
            umask = os.umask(0)
            os.umask(umask)
            os.fchmod(fd, mode & ~umask)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
