"""The price table is data: bundled, overridable, and used for costs and cache savings."""

from __future__ import annotations

from pathlib import Path

import pytest

from oneie_tui.agents.base import Usage
from oneie_tui.agents.pricing import PriceError, bundled_prices, cache_savings, load_prices
from oneie_tui.events import Event


def test_bundled_table_has_the_default_sonnet_and_aliases() -> None:
    table = bundled_prices()
    sonnet = table.lookup("claude-sonnet-5-5")
    assert sonnet is not None and (sonnet.input, sonnet.output, sonnet.cache_read) == (
        2.0,
        10.0,
        0.2,
    )
    assert table.resolve("haiku") == "claude-haiku-4-5"
    assert table.lookup("haiku") == table.lookup("claude-haiku-4-5")


def test_dated_ids_use_their_base_entry_but_unknown_versions_do_not() -> None:
    table = bundled_prices()
    assert table.lookup("claude-haiku-4-5-20251001") == table.lookup("claude-haiku-4-5")
    assert table.lookup("claude-sonnet-5-7") is None  # not silently priced as claude-sonnet-5
    assert table.lookup("gpt-something") is None


def test_cost_and_uncached_cost() -> None:
    price = bundled_prices().lookup("claude-sonnet-4-5")
    assert price is not None
    u = Usage(
        input_tokens=1_000_000,
        output_tokens=1_000_000,
        cache_write_tokens=1_000_000,
        cache_read_tokens=1_000_000,
    )
    assert price.cost(u) == pytest.approx(3 + 15 + 3.75 + 0.30)
    assert price.uncached_cost(u) == pytest.approx(3 * 3 + 15)


def test_user_config_overrides_and_adds_models(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        'theme = "dark"\n\n[prices."claude-sonnet-5-5"]\noutput = 12.0\n\n'
        '[prices."my-proxy-model"]\ninput = 1.0\noutput = 2.0\n\n[prices.aliases]\nfast = "my-proxy-model"\n',
        encoding="utf-8",
    )
    table = load_prices(cfg)
    sonnet = table.lookup("claude-sonnet-5-5")
    assert sonnet is not None and (sonnet.input, sonnet.output, sonnet.cache_read) == (
        2.0,
        12.0,
        0.2,
    )
    mine = table.lookup("fast")
    assert mine is not None and mine.cache_write == 1.25 and mine.cache_read == pytest.approx(0.1)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[prices."m"]\ninput = "cheap"\noutput = 1\n', "prices.'m'.input: expected a price"),
        ('[prices."m"]\ninput = 1\n', "missing 'output'"),
        ('[prices."m"]\ninput = 1\noutput = 1\ncahce_read = 1\n', "unknown key 'cahce_read'"),
        ('[prices."m"]\ninput = -1\noutput = 1\n', "expected a price"),
        ("prices = 3\n", "expected a table"),
        ("[prices\n", "cannot read prices"),
    ],
)
def test_bad_user_prices_name_the_file_and_key(tmp_path: Path, body: str, message: str) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text(body, encoding="utf-8")
    with pytest.raises(PriceError) as err:
        load_prices(cfg)
    assert str(cfg) in str(err.value) and message in str(err.value)


def test_cache_savings_fold_usage_events() -> None:
    def usage(actor: str, **md: float) -> Event:
        return Event(seq=1, run_id="r", ts=0.0, type="usage", actor=actor, metadata=dict(md))

    events = [
        usage("a", input_tokens=100, cache_write_tokens=1000, cost_usd=0.5, uncached_cost_usd=0.4),
        usage("b", input_tokens=100, cache_read_tokens=1000, cost_usd=0.1, uncached_cost_usd=0.4),
        usage("c", input_tokens=50, cost_usd=0.2),  # a backend that does not price caching
        Event(seq=2, run_id="r", ts=0.0, type="agent_output", actor="a", metadata={"text": "x"}),
    ]
    s = cache_savings(events)
    assert (s.cache_write_tokens, s.cache_read_tokens, s.saved_tokens) == (1000, 1000, 1000)
    assert s.saved_usd == pytest.approx(0.2)
    assert s.saved_pct == pytest.approx(100 * 1000 / 2250)
    assert "saved 1,000 tokens" in s.line() and "$0.2000" in s.line()
    assert cache_savings(events, actor="b").saved_usd == pytest.approx(0.3)
