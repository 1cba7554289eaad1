"""The one way to open a run store: a file path (SQLite) or a postgresql:// URL."""

from __future__ import annotations

import os

from oneie_tui.paths import store_path
from oneie_tui.store.base import Store, StoreError
from oneie_tui.trust.store_url import is_postgres, is_url, safe_url


def store_target(explicit: str | os.PathLike[str] | None = None) -> str:
    """`--store` wins, then `ONEIE_STORE`, then the platform's data folder; a URL is kept
    as written (a Path would fold its `//`)."""
    raw = os.fspath(explicit) if explicit else os.environ.get("ONEIE_STORE", "")
    if raw and is_url(raw):
        return raw
    return str(store_path(explicit))


def open_store(explicit: str | os.PathLike[str] | None = None) -> Store:
    target = store_target(explicit)
    if is_postgres(target):
        from oneie_tui.store.postgres import PostgresStore

        return PostgresStore(target)
    if is_url(target):
        raise StoreError(
            f"cannot open the run store at {safe_url(target)}: give a file path or a postgresql:// URL"
        )
    from oneie_tui.store.sqlite import RunStore

    return RunStore(target)
