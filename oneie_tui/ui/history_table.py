"""The history table's model: its columns, how runs sort and filter, and where each cell
goes on a screen of a given width. Plain data and text, no widgets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from oneie_tui.store.base import RunListing
from oneie_tui.trust.display import display
from oneie_tui.ui import format as fmt
from oneie_tui.views.outcome import completed_work

STATUSES = ("", "completed", "failed", "cancelled", "interrupted", "running")


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    width: int  # 0: takes the room left
    narrow: int  # the width below WIDE columns
    numeric: bool


COLUMNS = (
    Column("started", "started", 19, 11, False),
    Column("spec", "spec", 0, 0, False),
    Column("status", "outcome", 24, 13, False),
    Column("agents", "agents", 6, 6, True),
    Column("wall", "wall", 7, 6, True),
    Column("speedup", "speedup", 8, 7, True),
    Column("tokens", "tokens", 7, 6, True),
    Column("cost", "cost", 9, 8, True),
)
WIDE = 110  # narrower screens get short dates and single gaps, so 80 columns show every column


SORT_FIELD = {
    "started": "started",
    "spec": "spec_name",
    "status": "status",
    "agents": "agents",
    "wall": "wall_s",
    "speedup": "speedup",
    "tokens": "tokens",
    "cost": "cost_usd",
}


def sort_rows(rows: list[RunListing], key: str, reverse: bool) -> list[RunListing]:
    """Sorted by one column; runs without a figure (interrupted ones) sort below every
    figure; ties keep a stable order by id."""
    field = SORT_FIELD[key]
    if key in ("spec", "status"):
        return sorted(rows, key=lambda r: (str(getattr(r, field)).lower(), r.id), reverse=reverse)
    return sorted(
        rows,
        key=lambda r: (0, 0.0, r.id) if (v := getattr(r, field)) is None else (1, float(v), r.id),
        reverse=reverse,
    )


def filter_rows(rows: list[RunListing], text: str, status: str) -> list[RunListing]:
    """Rows whose id, spec or status contains `text` (case-insensitive), with `status`."""
    needle = text.strip().lower()
    return [
        r
        for r in rows
        if (not status or r.status == status)
        and (not needle or needle in r.spec_name.lower() or needle in r.id.lower() or needle in shown_status(r))
    ]


def shown_status(row: RunListing) -> str:
    """The outcome in words (`completed (1 cancelled)`), else the status."""
    return row.outcome or row.status


def cells(row: RunListing, total: int) -> list[str]:
    started = "%m-%d %H:%M" if total < WIDE else "%Y-%m-%d %H:%M:%S"
    return [
        datetime.fromtimestamp(row.started).strftime(started),
        display(row.spec_name),
        display(shown_status(row)),
        "—" if row.agents is None else str(row.agents),
        fmt.duration(row.wall_s),
        "—" if row.speedup is None or not completed_work(shown_status(row)) else fmt.speedup(row.speedup),
        "—" if row.tokens is None else fmt.tokens(row.tokens),
        "—" if row.cost_usd is None else fmt.money(row.cost_usd),
    ]


def _gap(total: int) -> int:
    return 2 if total >= WIDE else 1


def column_widths(total: int) -> list[int]:
    sizes = [c.width if total >= WIDE else c.narrow for c in COLUMNS]
    fixed = sum(sizes) + _gap(total) * (len(COLUMNS) - 1) + 1
    return [size or max(8, total - fixed) for size in sizes]


def layout(values: list[str], total: int) -> list[tuple[int, str]]:
    """(x, text) of each cell on a screen `total` wide: numbers to the right of their
    column, the rest to the left."""
    out: list[tuple[int, str]] = []
    x = 1
    for col, value, width in zip(COLUMNS, values, column_widths(total), strict=True):
        text = value if len(value) <= width else value[: width - 1] + "…"
        out.append((x, text.rjust(width) if col.numeric else text.ljust(width)))
        x += width + _gap(total)
    return out


def column_at(x: int, total: int) -> str | None:
    """The column under screen column `x` of the header."""
    left = 1
    for col, width in zip(COLUMNS, column_widths(total), strict=True):
        if left <= x < left + width + _gap(total):
            return col.key
        left += width + _gap(total)
    return None
