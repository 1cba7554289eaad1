"""Fixtures for the dashboard tests: a fixed clock, specs, an app factory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.tui.scenario import T0

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "specs"


@pytest.fixture
def fixed_clock() -> Callable[[], float]:
    return lambda: T0 + 1.25


@pytest.fixture
def make_app(fixed_clock: Callable[[], float], tmp_path: Path) -> Callable[..., Any]:
    from oneie_tui.ui.app import OneieApp

    def make(spec: str | Path | None = "course-crud.toml", **kwargs: Any) -> OneieApp:
        path = None
        if spec is not None:
            path = Path(spec) if Path(spec).is_absolute() else SPECS / str(spec)
        kwargs.setdefault("clock", fixed_clock)
        kwargs.setdefault("cursor_blink", False)
        kwargs.setdefault("store_path", tmp_path / "runs.sqlite3")
        return OneieApp(path, **kwargs)

    return make


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
