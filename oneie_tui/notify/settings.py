"""What a run notifies, and how: the user's config `[notify]`, then the spec's `[notify]`
over it key by key, then the mode (dashboard or headless) and `--notify`.

Both tables are checked by one model (`spec.model.NotifyTable`); a bad key in the config
file is one line naming the file and the key, and that table is left out (a bad config
never stops a run). A spec's bad key is a `SpecError` when the spec loads.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import ValidationError

from oneie_tui.spec.model import NoticeKindName, NotifyTable

DesktopMode = Literal["auto", "osc9", "osc777", "notify-send", "off"]
ALL_KINDS: frozenset[str] = frozenset(get_args(NoticeKindName))
DEFAULT_QUIET_S = 30.0


@dataclass(frozen=True)
class NotifySettings:
    on: bool = True  # after the mode: False means no notice at all
    bell: bool = True
    desktop: DesktopMode = "auto"
    webhook: str | None = None
    serve_url: str | None = None  # the webhook's link: SERVE_URL/watch/RUN, else oneie://run/RUN
    quiet_seconds: float = DEFAULT_QUIET_S
    kinds: frozenset[str] = ALL_KINDS
    headless: bool = False  # the run is headless: no dashboard to ring


OFF = NotifySettings(on=False)


def config_table(raw: dict[str, Any], path: Path | None) -> tuple[NotifyTable, str | None]:
    """The user's `[notify]` checked: the table, or an empty one and the problem in one line."""
    try:
        return NotifyTable.model_validate(raw), None
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        key = ".".join(str(p) for p in first["loc"]) or "(table)"
        message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
        if first.get("type") == "extra_forbidden":
            message = f"unknown key (known: {', '.join(NotifyTable.model_fields)})"
        return NotifyTable(), f"{path or 'config'}: [notify] {key}: {message}"


def merged(config: NotifyTable, spec: NotifyTable) -> dict[str, Any]:
    """The keys either table sets, the spec's winning. None is "not set" too: a spec that
    went through `model_dump` and back (a backend override) has every key set, to None."""
    out = {k: v for k in config.model_fields_set if (v := getattr(config, k)) is not None}
    out.update({k: v for k in spec.model_fields_set if (v := getattr(spec, k)) is not None})
    return out


def resolve(
    config: NotifyTable, spec: NotifyTable, *, headless: bool = False, asked: bool = False
) -> NotifySettings:
    """The settings of one run. Headless runs notify only when asked (`--notify`) or when
    a table says `headless = true`; `asked` also overrides `enabled = false`."""
    keys = merged(config, spec)
    on = asked or (bool(keys.get("enabled", True)) and (not headless or bool(keys.get("headless", False))))
    desktop = keys.get("desktop", "auto")
    mode: DesktopMode = "auto" if desktop is True else "off" if desktop is False else desktop
    events = keys.get("events")
    return NotifySettings(
        on=on,
        bell=bool(keys.get("bell", True)),
        desktop=mode,
        webhook=keys.get("webhook"),
        serve_url=keys.get("serve_url"),
        quiet_seconds=float(keys.get("quiet_seconds", DEFAULT_QUIET_S)),
        kinds=frozenset(events) if events is not None else ALL_KINDS,
        headless=headless,
    )
