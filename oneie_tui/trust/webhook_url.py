"""Webhook URLs (`[notify] webhook`): where a run's notices may be POSTed.

Only `https://`, or plain `http://` to this machine's loopback (a local relay, a test
server): a notice names the run and its outcome, which should not cross a network in
clear text. No user or password in the URL (it would be logged and shown), a host, and
no control characters or spaces.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

MAX_URL = 2000
LOOPBACK_NAMES = frozenset({"localhost"})


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_webhook_url(url: str, what: str = "webhook URL") -> str:
    """`url` when it is a webhook oneie may POST to (or, `what` says, a link it may send),
    else a `ValueError` in one sentence."""
    if len(url) > MAX_URL:
        raise ValueError(f"{what} is longer than {MAX_URL} characters")
    if not url.isprintable() or any(c.isspace() for c in url):
        raise ValueError(f"{what} holds spaces or control characters")
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise ValueError(f"{what} is not a URL: {exc}") from None
    if parts.scheme not in ("https", "http") or not host:
        raise ValueError(f'{what} must look like "https://host/path"')
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"{what} must not hold a user or password (use a token in the path)")
    if parts.scheme == "http" and not is_loopback(host):
        raise ValueError(f"{what} must be https:// (plain http:// only to 127.0.0.1, ::1 or localhost)")
    return url
