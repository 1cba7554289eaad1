"""Keep API keys out of logs, events and messages.

`redact(text)` masks Anthropic keys (`sk-ant-...`), the values of `x-api-key` and
`authorization` headers (in `key: value`, `key=value` and dict-repr forms), and the exact
values of the key variables in the environment (`ANTHROPIC_API_KEY`, ...), whatever they
look like.

`install()` makes every log record pass through `redact` when it is created (a log record
factory), so no handler, whether added before or after, sees a secret; the
`RedactingFilter` does the same for one handler or logger when a global hook is unwanted.
"""

from __future__ import annotations

import functools
import logging
import os
import re
from collections.abc import Iterable
from typing import Any

MASK = "[redacted]"
SECRET_ENV = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN")
_MIN_SECRET = 8  # shorter env values would mask ordinary words

_KEY_RE = re.compile(r"sk-ant-[A-Za-z0-9_\-]+")
_HEADER_RE = re.compile(
    r"(?i)((?:x-api-key|authorization|proxy-authorization)['\"]?\s*[:=]\s*['\"]?(?:bearer\s+|basic\s+)?)"
    r"[^\s'\",;}\]]+"
)


def _env_secrets() -> tuple[str, ...]:
    # Called for every output line of every agent: the sorted list is cached per set of
    # values, so it is rebuilt only when the environment's keys change.
    return _sorted_secrets(tuple(os.environ.get(name, "") for name in SECRET_ENV))


@functools.lru_cache(maxsize=8)
def _sorted_secrets(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sorted({v for v in values if len(v) >= _MIN_SECRET}, key=len, reverse=True))


# Colour and cursor escapes (`grep --color` wraps its match in `ESC[01;31m ESC[K`):
# a key split by them is still a key.
_CSI_RE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every key and auth header value masked. When escapes sit inside a
    key, the text is masked without its colour escapes (the key must not survive in
    pieces)."""
    if not text:
        return text
    if "\x1b" in text:
        bare = _CSI_RE.sub("", text)
        if bare != text:
            bare_masked = _redact_plain(bare, secrets)
            if bare_masked != bare:
                return bare_masked
    return _redact_plain(text, secrets)


def _redact_plain(text: str, secrets: Iterable[str]) -> str:
    for secret in [*secrets, *_env_secrets()]:
        if secret and len(secret) >= _MIN_SECRET and secret in text:
            text = text.replace(secret, MASK)
    text = _KEY_RE.sub(MASK, text)
    return _HEADER_RE.sub(lambda m: m.group(1) + MASK, text)


def find_key(text: str) -> int | None:
    """Where the first API key in `text` starts (an `sk-ant-` key, or the value of a key
    variable of the environment), or None. Header patterns are left out: prose such as
    "authorization: roles" is not a secret."""
    found = [m.start() for m in [_KEY_RE.search(text)] if m]
    found += [text.find(s) for s in _env_secrets() if s in text]
    if not found and "\x1b" in text:
        bare = _CSI_RE.sub("", text)
        if bare != text and find_key(bare) is not None:
            found = [text.find("\x1b")]  # a key with escapes inside: where they begin
    return min(found, default=None)


def redact_value(value: Any) -> Any:
    """Redact every string inside JSON-like data (dicts, lists, strings)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(v) for v in value]
    return value


def _scrub(record: logging.LogRecord) -> None:
    if getattr(record, "_oneie_redacted", False):
        return
    try:
        message = record.getMessage()
    except Exception:  # a broken format string: keep what we can show safely
        message = str(record.msg)
    record.msg = redact(message)
    record.args = None
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    record._oneie_redacted = True


class RedactingFilter(logging.Filter):
    """Attach to a handler (or logger) to mask secrets in what it passes on."""

    def filter(self, record: logging.LogRecord) -> bool:
        _scrub(record)
        return True


_installed = False


def install() -> None:
    """Redact every log record from now on, for every logger and handler. Idempotent."""
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        _scrub(record)
        return record

    logging.setLogRecordFactory(factory)
    _installed = True
