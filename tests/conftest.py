"""Shared fixtures. Every test gets its own store and config folders: nothing touches ~."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from oneie_tui.store.base import Store
    from tests.fakes.pg_server import PgServer

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local/share"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local/state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("ONEIE_STORE", str(tmp_path / "store" / "runs.sqlite3"))
    return home


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """One real PostgreSQL server for the session (tests/fakes/pg_server.py). Missing
    binaries fail the tests that need it: `make test` installs them, nothing skips."""
    from tests.fakes.pg_server import running_server

    with running_server() as server:
        yield server


_databases = itertools.count(1)


@pytest.fixture(params=["sqlite", "postgres"])
def store_target(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh, empty store on each engine in turn: a file, or a database of its own on
    the session's server. ONEIE_STORE points at it, so commands use it too."""
    if request.param == "sqlite":
        target = str(tmp_path / "store" / "runs.sqlite3")
    else:
        server: PgServer = request.getfixturevalue("pg_server")
        target = server.create_database(f"t{os.getpid()}_{next(_databases)}")
    monkeypatch.setenv("ONEIE_STORE", target)
    return target


@pytest.fixture
def any_store(store_target: str) -> Iterator[Store]:
    from oneie_tui.store.open import open_store

    store = open_store(store_target)
    yield store
    store.close()
