"""The user's config file (TOML at `paths.config_file()`) and the dashboard's small state.

```toml
theme = "light"              # any theme name (bundled, user, or Textual's)

[keymap]                     # binding id = keys (comma-separated)
pause = "x,space"            # ids: pause cancel restart zoom pause_all cancel_run
cancel_run = "ctrl+k"        # toggle_editor filter history save_spec run_spec quit theme

[notify]                     # notices of run-level changes (docs/notifications.md)
quiet_seconds = 30           # a spec's own [notify] keys win over these
```

A bad config file never stops the app: `load_config` returns the problems to show.
The last spec opened is remembered in the data dir (`state.json`), not in the user's
file, so their comments and layout are never rewritten.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from oneie_tui import paths


@dataclass
class UserConfig:
    theme: str | None = None
    keymap: dict[str, str] = field(default_factory=dict)
    serve_token: str | None = None  # [serve] token: `oneie serve`'s, else a fresh one each start
    # [notify] as written: checked where it is used (notify.settings), with this file's name.
    notify: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None


def load_config(path: Path | None = None) -> tuple[UserConfig, list[str]]:
    """Read the config file. Missing file: defaults. Returns (config, problems)."""
    target = path or paths.config_file()
    config = UserConfig(path=target)
    if not target.exists():
        return config, []
    try:
        data: dict[str, Any] = tomllib.loads(target.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        return config, [f"{target}: cannot read: {exc}"]
    except tomllib.TOMLDecodeError as exc:
        return config, [f"{target}: TOML syntax: {exc}"]
    problems: list[str] = []
    for key in sorted(set(data) - {"theme", "keymap", "prices", "serve", "notify"}):  # [prices]: read by pricing.py
        problems.append(f"{target}: unknown key {key!r} (known: theme, keymap, serve, notify)")
    notify = data.get("notify", {})
    if isinstance(notify, dict):
        config.notify = notify
    else:
        problems.append(f"{target}: [notify]: expected a table")
    serve = data.get("serve", {})
    token = serve.get("token") if isinstance(serve, dict) else None
    if isinstance(token, str) and token.strip():
        config.serve_token = token.strip()
    elif "serve" in data:
        problems.append(f"{target}: [serve] token: expected a string")
    theme = data.get("theme")
    if theme is not None:
        if isinstance(theme, str) and theme.strip():
            config.theme = theme.strip()
        else:
            problems.append(f"{target}: theme: expected a theme name")
    keymap = data.get("keymap", {})
    if not isinstance(keymap, dict):
        problems.append(f"{target}: [keymap]: expected a table of binding id = \"keys\"")
        keymap = {}
    for binding_id, keys in keymap.items():
        if isinstance(keys, str) and keys.strip():
            config.keymap[str(binding_id)] = keys.strip()
        elif isinstance(keys, list) and keys and all(isinstance(k, str) for k in keys):
            config.keymap[str(binding_id)] = ",".join(keys)
        else:
            problems.append(f"{target}: keymap.{binding_id}: expected keys such as \"x\" or \"ctrl+x,f2\"")
    return config, problems


def _state_file() -> Path:
    return paths.data_dir() / "state.json"


def _read_state() -> dict[str, Any]:
    try:
        data = json.loads(_state_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def last_spec() -> Path | None:
    """The spec the dashboard had open last, if it still exists."""
    value = _read_state().get("last_spec")
    if not isinstance(value, str):
        return None
    found = Path(value)
    return found if found.is_file() else None


def remember_last_spec(spec_path: Path) -> None:
    state = _read_state()
    state["last_spec"] = str(spec_path.resolve())
    target = _state_file()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2), encoding="utf-8")
        tmp.replace(target)
    except OSError:
        pass  # remembering is a convenience; never fail the app for it
