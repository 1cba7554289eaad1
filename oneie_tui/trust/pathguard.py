"""Spec-provided paths stay inside their folder.

`confine(written, root)` resolves `written` against `root` and refuses it, before anything
is opened, when it leaves `root`: `../x`, an absolute path elsewhere, a sibling sharing the
root's name as a prefix (`/proj-evil` is not inside `/proj`: whole components are compared),
or a symlink pointing outside. Checked on the path as written and on the resolved path.
"""

from __future__ import annotations

import os
from pathlib import Path


class PathEscape(ValueError):
    """A spec path leaves its folder. One line."""


def confine(written: str, root: str | os.PathLike[str], what: str) -> Path:
    """The real path of `written` (relative to `root`, or absolute), if inside `root`."""
    if not written or "\x00" in written:
        raise PathEscape(f"{what} {written!r}: not a path")
    base = Path(root).resolve()
    path = Path(written).expanduser()
    candidate = path if path.is_absolute() else base / path
    if not Path(os.path.normpath(candidate)).is_relative_to(base):
        raise PathEscape(f"{what} {written!r}: outside the project folder {base}")
    real = candidate.resolve()
    if not real.is_relative_to(base):
        raise PathEscape(f"{what} {written!r}: resolves to {real}, outside the project folder {base}")
    return real
