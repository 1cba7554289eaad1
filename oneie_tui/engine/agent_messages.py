"""What the user may say to an agent (`Runner.send_message`, `oneie send`, the dashboard's
message input): one bounded text, control characters out. Kept apart from the runner so
the client side of `oneie send` checks a message the same way before sending it."""

from __future__ import annotations

import re

MAX_MESSAGE_CHARS = 8000
# C0 controls but tab and newline, DEL, C1 controls, and the bidi overrides that make a
# text read differently from what it says.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def clean_message(text: object) -> str:
    """The message as it is delivered: a string, control characters stripped, `\\r\\n`
    made `\\n`, outer whitespace trimmed. ValueError (one line) when it is not a string,
    is empty, or is longer than MAX_MESSAGE_CHARS."""
    if not isinstance(text, str):
        raise ValueError("a message must be text")
    cleaned = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n")).strip()
    if not cleaned:
        raise ValueError("the message is empty")
    if len(cleaned) > MAX_MESSAGE_CHARS:
        raise ValueError(f"the message is {len(cleaned)} characters; at most {MAX_MESSAGE_CHARS} are taken")
    return cleaned
