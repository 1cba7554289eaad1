"""PostgreSQL store URLs: which targets are URLs, and how to show one without its password."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

SCHEMES = ("postgresql://", "postgres://")
MASK = "***"


def is_url(target: str) -> bool:
    """Any `scheme://` target is a URL, not a file path (even one we cannot open)."""
    return "://" in target


def is_postgres(target: str) -> bool:
    return target.lower().startswith(SCHEMES)


def secrets_of(url: str) -> list[str]:
    """The password in `url` (netloc or `password=` query), to scrub from server errors."""
    try:
        parts = urlsplit(url)
        found = [parts.password] if parts.password else []
        found += [v for k, v in parse_qsl(parts.query) if k == "password" and v]
    except ValueError:
        return []
    return found


def safe_url(url: str) -> str:
    """`url` with the password masked: what logs, listings and errors show."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if parts.password is not None:
            userinfo, _, hostport = netloc.rpartition("@")
            user = userinfo.split(":", 1)[0]
            netloc = f"{user}:{MASK}@{hostport}"
        query = urlencode(
            [(k, MASK if k == "password" else v) for k, v in parse_qsl(parts.query, keep_blank_values=True)],
            safe="*",
        )
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:
        return f"{url.split('://', 1)[0]}://{MASK}"


def scrub(text: str, url: str) -> str:
    """`text` (a server or driver message) with the URL's password and the URL masked."""
    text = text.replace(url, safe_url(url))
    for secret in secrets_of(url):
        text = text.replace(secret, MASK)
    return text
