"""Every path the tool uses comes from here (platformdirs), so tests and users can move them."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "oneie"


def data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP, appauthor=False))


def config_dir() -> Path:
    return Path(platformdirs.user_config_dir(APP, appauthor=False))


def log_dir() -> Path:
    return Path(platformdirs.user_log_dir(APP, appauthor=False))


def config_file() -> Path:
    return config_dir() / "config.toml"


def user_themes_dir() -> Path:
    return config_dir() / "themes"


def store_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """`--store` wins, then `ONEIE_STORE`, then the platform's data folder."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("ONEIE_STORE")
    if env:
        return Path(env)
    return data_dir() / "runs.sqlite3"


def package_root() -> Path:
    return Path(__file__).resolve().parent


def bundled_dir(name: str) -> Path:
    """`specs` or `themes`: inside the wheel (`oneie_tui/_data/NAME`) or, in a checkout,
    the top-level folder of that name."""
    inside = package_root() / "_data" / name
    if inside.is_dir():
        return inside
    return package_root().parent / name
