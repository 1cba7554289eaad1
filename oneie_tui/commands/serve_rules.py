"""What the server and its request handlers share: the token cookie, the run ids a URL may
name, the app command each tab runs, and the token and origin checks."""

from __future__ import annotations

import hmac
import re
import shlex
import sys
from urllib.parse import urlsplit

COOKIE = "oneie_token"
RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")  # what a served URL may name


def app_command(*args: str) -> str:
    """The shell command textual-serve starts for a tab: this Python, this oneie."""
    return " ".join(shlex.quote(a) for a in [sys.executable, "-m", "oneie_tui", *args])


def token_ok(given: str, token: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), token.encode("utf-8"))


def same_origin(origin: str | None, host: str) -> bool:
    """A page of another site must not drive a tab's app through the websocket."""
    if not origin:
        return True  # not a browser's cross-site request
    return urlsplit(origin).netloc == host
