"""Token prices as data, cost per turn, and what prompt caching saved.

The table ships as `oneie_tui/data/prices.toml` (USD per million tokens, per model). The
user's config file (`paths.config_file()`) may override or add models under `[prices]`:

```toml
[prices."claude-sonnet-5-5"]
input = 2.0
output = 10.0
cache_write = 2.5     # optional: 1.25 x input
cache_read = 0.2      # optional: 0.1 x input

[prices.aliases]
sonnet = "claude-sonnet-5-5"
```

Savings: without prompt caching every cache-read and cache-write token would have been a
plain input token. `uncached_cost` prices a turn that way; the saving is the difference in
dollars, and the cache-read tokens in tokens (input the model did not process afresh).
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from oneie_tui import paths
from oneie_tui.events import EventType, Usage, add_usage

PER_TOKEN = 1_000_000.0
_DATE_SUFFIX = re.compile(r"^-\d{8}$")
_FIELDS = ("input", "output", "cache_write", "cache_read")


class PriceError(Exception):
    """The price table (bundled or the user's [prices]) is malformed. One line."""


@dataclass(frozen=True)
class Price:
    """USD per million tokens."""

    input: float
    output: float
    cache_write: float
    cache_read: float

    def cost(self, usage: Usage) -> float:
        return (
            usage.input_tokens * self.input
            + usage.output_tokens * self.output
            + usage.cache_write_tokens * self.cache_write
            + usage.cache_read_tokens * self.cache_read
        ) / PER_TOKEN

    def uncached_cost(self, usage: Usage) -> float:
        """The same turn had nothing been cached: every prompt token at the input price."""
        prompt = usage.input_tokens + usage.cache_write_tokens + usage.cache_read_tokens
        return (prompt * self.input + usage.output_tokens * self.output) / PER_TOKEN


@dataclass
class PriceTable:
    models: dict[str, Price] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)

    def resolve(self, model: str) -> str:
        """An alias (`sonnet`) → its model id; anything else unchanged."""
        return self.aliases.get(model, model)

    def lookup(self, model: str) -> Price | None:
        """The entry for `model`, or for its base id when it carries a date suffix."""
        model = self.resolve(model)
        if model in self.models:
            return self.models[model]
        for key in sorted(self.models, key=len, reverse=True):
            if model.startswith(key) and _DATE_SUFFIX.match(model[len(key) :]):
                return self.models[key]
        return None


def _number(value: Any, where: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < 0
    ):
        raise PriceError(
            f"{where}: expected a price (a number of USD per million tokens, 0 or more)"
        )
    return float(value)


def _parse_models(
    data: Mapping[str, Any], where: str, base: Mapping[str, Price]
) -> dict[str, Price]:
    out: dict[str, Price] = {}
    for model, entry in data.items():
        at = f"{where}.{model!r}" if where else repr(model)
        if not isinstance(entry, Mapping):
            raise PriceError(f"{at}: expected a table with input and output prices")
        unknown = sorted(set(entry) - set(_FIELDS))
        if unknown:
            raise PriceError(f"{at}: unknown key {unknown[0]!r} (known: {', '.join(_FIELDS)})")
        old = base.get(model)
        values: dict[str, float] = {}
        for name in ("input", "output"):
            if name in entry:
                values[name] = _number(entry[name], f"{at}.{name}")
            elif old is not None:
                values[name] = getattr(old, name)
            else:
                raise PriceError(f"{at}: missing {name!r} price")
        values["cache_write"] = (
            _number(entry["cache_write"], f"{at}.cache_write")
            if "cache_write" in entry
            else (old.cache_write if old and "input" not in entry else values["input"] * 1.25)
        )
        values["cache_read"] = (
            _number(entry["cache_read"], f"{at}.cache_read")
            if "cache_read" in entry
            else (old.cache_read if old and "input" not in entry else values["input"] * 0.1)
        )
        out[model] = Price(**values)
    return out


def _parse_aliases(data: Any, where: str) -> dict[str, str]:
    if not isinstance(data, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) and v for k, v in data.items()
    ):
        raise PriceError(f'{where}: expected a table of alias = "model-id"')
    return dict(data)


def bundled_prices() -> PriceTable:
    text = resources.files("oneie_tui").joinpath("data/prices.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    return PriceTable(
        models=_parse_models(data.get("models", {}), "models", {}),
        aliases=_parse_aliases(data.get("aliases", {}), "aliases"),
    )


def load_prices(config_file: Path | None = None) -> PriceTable:
    """The bundled table with the user's `[prices]` applied on top. Raises `PriceError`
    naming the file and key when the user's table is malformed."""
    table = bundled_prices()
    target = config_file or paths.config_file()
    if not target.is_file():
        return table
    try:
        data = tomllib.loads(target.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise PriceError(f"{target}: cannot read prices: {exc}") from None
    user = data.get("prices")
    if user is None:
        return table
    if not isinstance(user, Mapping):
        raise PriceError(f"{target}: [prices]: expected a table of model prices")
    user = dict(user)
    try:
        if "aliases" in user:
            table.aliases.update(_parse_aliases(user.pop("aliases"), "prices.aliases"))
        table.models.update(_parse_models(user, "prices", table.models))
    except PriceError as exc:
        raise PriceError(f"{target}: {exc}") from None
    return table


@dataclass
class CacheSavings:
    """Cache figures of a run (or one agent), folded from `usage` events."""

    usage: Usage = field(default_factory=Usage)
    uncached_cost_usd: float = 0.0  # what the same tokens would have cost with no cache

    @property
    def cache_write_tokens(self) -> int:
        return self.usage.cache_write_tokens

    @property
    def cache_read_tokens(self) -> int:
        return self.usage.cache_read_tokens

    @property
    def cost_usd(self) -> float:
        return self.usage.cost_usd

    @property
    def saved_tokens(self) -> int:
        return self.usage.cache_read_tokens

    @property
    def saved_usd(self) -> float:
        return self.uncached_cost_usd - self.usage.cost_usd

    @property
    def saved_pct(self) -> float:
        """Share of prompt tokens served from the cache."""
        u = self.usage
        prompt = u.input_tokens + u.cache_write_tokens + u.cache_read_tokens
        return 100.0 * u.cache_read_tokens / prompt if prompt else 0.0

    def add_usage_metadata(self, md: Mapping[str, Any]) -> None:
        before = self.usage.cost_usd
        add_usage(self.usage, dict(md))
        # Usage from backends that do not price the uncached case counts as no saving.
        self.uncached_cost_usd += float(md.get("uncached_cost_usd", self.usage.cost_usd - before))

    def to_dict(self) -> dict[str, Any]:
        return {
            "cache_write_tokens": self.cache_write_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "saved_tokens": self.saved_tokens,
            "saved_pct": round(self.saved_pct, 2),
            "saved_usd": round(self.saved_usd, 6),
            "cost_usd": round(self.cost_usd, 6),
            "uncached_cost_usd": round(self.uncached_cost_usd, 6),
        }

    def line(self) -> str:
        """The run summary's one line, e.g. for headless output and the dashboard footer."""
        return (
            f"cache: {self.cache_write_tokens:,} tokens written, {self.cache_read_tokens:,} read · "
            f"saved {self.saved_tokens:,} tokens ({self.saved_pct:.0f}% of prompt) and "
            f"${self.saved_usd:.4f} vs. no caching"
        )


def cache_savings(events: Iterable[Any], actor: str | None = None) -> CacheSavings:
    """Fold `usage` events (live `Event`s or stored ones) into cache figures; `actor`
    limits it to one agent."""
    out = CacheSavings()
    for e in events:
        if e.type == EventType.USAGE and (actor is None or e.actor == actor):
            out.add_usage_metadata(e.metadata)
    return out
