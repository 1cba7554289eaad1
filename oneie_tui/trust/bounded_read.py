"""Read a file named from outside (a spec, a profile, a theme) without trusting what
it says about itself: at most `limit + 1` bytes are read, whatever `st_size` claims, so a
device (`/dev/zero`), a pipe or a file that grows is refused as too large at once instead
of being read until memory runs out. A FIFO with no writer does not block the open.

No dependency on the rest of the package.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


class TooLarge(Exception):
    """More than `limit` bytes."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"the file is larger than {limit // 1024} KiB")


def read_bounded(path: str | Path, limit: int) -> bytes:
    """The file's bytes, at most `limit`; `TooLarge` beyond, `OSError` as `open` raises it
    (`IsADirectoryError` for a folder)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        # Non-blocking only for the open (a FIFO without a writer); reads may block.
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
        fcntl.fcntl(fd, fcntl.F_SETFL, flags & ~os.O_NONBLOCK)
        chunks: list[bytes] = []
        got = 0
        while got <= limit:
            chunk = os.read(fd, min(1 << 16, limit + 1 - got))
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
    finally:
        os.close(fd)
    if got > limit:
        raise TooLarge(limit)
    return b"".join(chunks)
