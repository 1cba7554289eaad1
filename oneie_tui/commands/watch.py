"""`oneie watch RUN`: the dashboard, read-only, on a run another process or machine is
writing (on PostgreSQL, from anywhere the store is reachable). No control reaches the run."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from oneie_tui.commands.common import add_store_arg, guarded, open_app, open_store


def register(sub: Any) -> None:
    p = sub.add_parser("watch", help="watch a live run read-only (one written by another process or machine)")
    p.add_argument("run", help="run id, unique prefix, or 'last'")
    add_store_arg(p)
    p.set_defaults(handler=guarded(cmd_watch))


def cmd_watch(args: argparse.Namespace) -> int:
    store = open_store(args)
    row = store.get_run(args.run)  # a bad id fails here, before the screen opens
    if row.status != "running":
        sys.stderr.write(f"run {row.id} is {row.status}, not live: showing where it ended\n")

    def factory() -> Any:
        from oneie_tui.ui.screens.watch import WatchScreen

        return WatchScreen(store, row.id)

    return open_app(args, factory, store)
