"""`oneie serve`: the run history and live watching in a browser, through textual-serve.

Each browser tab gets an app process of its own running a read-only command: `/` runs
`oneie history --read-only` (browse, replay, watch; no delete, no resume) and
`/watch/RUN` runs `oneie watch RUN`. Nothing served can start, stop or change a run.
Every request needs the token (printed at start, or `[serve] token` in the config):
`?token=` on the first page, then an HttpOnly, SameSite=Strict cookie. The server binds to
127.0.0.1 unless told otherwise; for a team, put it behind a TLS reverse proxy (see
README) and pass `--public-url`. The store (a path or a postgresql:// URL) reaches the
app processes through ONEIE_STORE, never their command line.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import secrets
import sys
from typing import Any

from oneie_tui.commands.common import EXIT_USAGE, add_store_arg, die, guarded, open_store

MIN_TOKEN = 16


def register(sub: Any) -> None:
    p = sub.add_parser("serve", help="serve the history and live runs to a browser (read-only, token required)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--public-url", default=None, help="the URL browsers use, when behind a reverse proxy")
    add_store_arg(p)
    p.set_defaults(handler=guarded(cmd_serve))


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve_token() -> str:
    """The config's `[serve] token`, else a fresh one for this server's lifetime."""
    from oneie_tui.config import load_config

    config, _ = load_config()
    token = config.serve_token
    if token is not None and len(token) < MIN_TOKEN:
        die(f"[serve] token in the config: at least {MIN_TOKEN} characters", EXIT_USAGE)
    return token or secrets.token_urlsafe(24)


def cmd_serve(args: argparse.Namespace) -> int:
    if not 0 < args.port < 65536:
        die("--port: expected 1-65535", EXIT_USAGE)
    from oneie_tui.store.open import store_target

    store = open_store(args)  # a bad store is one line now, not in every tab
    shown = str(store.path)
    store.close()
    os.environ["ONEIE_STORE"] = store_target(args.store)  # inherited by each tab's process
    token = serve_token()
    if not is_loopback(args.host):
        sys.stderr.write(
            f"oneie serve: listening on {args.host}, beyond this machine: put it behind a TLS"
            " reverse proxy (the token travels in the first URL)\n"
        )
    from oneie_tui.commands.serve_web import OneieServer

    server = OneieServer(token, host=args.host, port=args.port, public_url=args.public_url)
    print(f"oneie serve: the run history in {shown}", flush=True)
    print(f"open {server.public_url}/?token={token}", flush=True)
    server.run()
    return 0
