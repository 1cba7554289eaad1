"""Spec files: read TOML, validate, and turn every failure into one `SpecError`.

Anything a user can put in a file ends here as a `SpecError` naming the file and the place
(line:column for TOML syntax, a field path such as `agents[2].after[0]` for the model),
never as a traceback.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w
from pydantic import ValidationError

from oneie_tui.spec.model import Spec, SpecProblem, check_spec
from oneie_tui.trust.bounded_read import TooLarge, read_bounded
from oneie_tui.trust.redact import find_key

MAX_SPEC_BYTES = 1024 * 1024


class SpecError(Exception):
    """A spec that cannot be used. `str()` is the one line shown to the user."""

    def __init__(
        self,
        file: str,
        message: str,
        *,
        line: int | None = None,
        column: int | None = None,
        field: str | None = None,
    ) -> None:
        self.file = file
        self.message = message
        self.line = line
        self.column = column
        self.field = field
        super().__init__(str(self))

    def __str__(self) -> str:
        return " ".join(self._text().split())  # always one line, whatever the message held

    def _text(self) -> str:
        place = self.file
        if self.line is not None:
            place += f":{self.line}"
            if self.column is not None:
                place += f":{self.column}"
        if self.field:
            return f"{place}: {self.field}: {self.message}"
        return f"{place}: {self.message}"


@dataclass(frozen=True)
class LoadedSpec:
    spec: Spec
    path: Path | None
    text: str

    @property
    def name(self) -> str:
        return self.spec.feature.name


def format_loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


_TOML_POS = re.compile(r"\(at line (\d+), column (\d+)\)")
_TOML_END = "(at end of document)"
_FIELD_PART = re.compile(r"([A-Za-z0-9_-]+)|\[(\d+)\]")


def locate_field(text: str, field: str) -> int | None:
    """Best-effort line number of a field path in TOML text, for editors and messages."""
    parts: list[str | int] = [
        m.group(1) if m.group(1) is not None else int(m.group(2))
        for m in _FIELD_PART.finditer(field)
    ]
    if not parts:
        return None
    lines = text.splitlines()
    table = str(parts[0])
    start, end = 0, len(lines)
    rest = parts[1:]
    header = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_.-]+)\s*\]\]?")
    if rest and isinstance(rest[0], int):
        # Array of tables: find the n-th `[[table]]`.
        hits = [i for i, ln in enumerate(lines) if re.match(rf"^\s*\[\[\s*{re.escape(table)}\s*\]\]", ln)]
        if rest[0] >= len(hits):
            return hits[-1] + 1 if hits else None
        start = hits[rest[0]]
        rest = rest[1:]
    else:
        hits = [i for i, ln in enumerate(lines) if re.match(rf"^\s*\[\s*{re.escape(table)}\s*\]", ln)]
        if not hits:
            return None
        start = hits[0]
    for i in range(start + 1, len(lines)):
        if header.match(lines[i]) and not lines[i].strip().startswith(f"[{table}."):
            end = i
            break
    key = next((p for p in rest if isinstance(p, str)), None)
    if key is None:
        return start + 1
    key_re = re.compile(rf"^\s*{re.escape(key)}\s*=")
    sub_re = re.compile(rf"^\s*\[\s*{re.escape(table)}\.{re.escape(key)}\s*\]")
    for i in range(start, end):
        if key_re.match(lines[i]) or sub_re.match(lines[i]):
            return i + 1
    return start + 1


def _decode(path_label: str, raw: bytes) -> str:
    if not raw.strip():
        raise SpecError(path_label, "the file is empty; a spec needs [feature] and [[agents]]")
    if b"\x00" in raw:
        offset = raw.index(b"\x00")
        line = raw.count(b"\n", 0, offset) + 1
        raise SpecError(path_label, "this is a binary file, not a TOML spec", line=line)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise SpecError(
            path_label, "the file is not valid UTF-8", line=line, column=column
        ) from None


def parse_spec_text(text: str, path_label: str = "<spec>") -> Spec:
    """Parse and validate TOML text. Raises only `SpecError`."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_SPEC_BYTES:
        raise SpecError(path_label, f"the file is larger than {MAX_SPEC_BYTES // 1024} KiB")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = _TOML_POS.search(msg)
        line = int(m.group(1)) if m else None
        column = int(m.group(2)) if m else None
        if m is None and _TOML_END in msg:
            line, column = _end_position(text)
        clean = _TOML_POS.sub("", msg).replace(_TOML_END, "").strip()
        if m is None and _TOML_END in msg:
            clean += " (at the end of the file)"
        raise SpecError(path_label, f"TOML syntax: {clean}", line=line, column=column) from None
    except RecursionError:
        raise SpecError(path_label, "the TOML is nested too deeply") from None
    _refuse_keys(text, path_label)
    _refuse_parsed_keys(data, path_label, text)
    return validate_spec_data(data, path_label, text)


def _refuse_keys(text: str, path_label: str) -> None:
    """The spec text is stored with every run and shown in the editor, so a key written
    into it would leak; keys belong in the environment (ANTHROPIC_API_KEY), which every
    agent process inherits."""
    offset = find_key(text)
    if offset is None:
        return
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    raise SpecError(
        path_label,
        "an API key is written in the spec; remove it and set ANTHROPIC_API_KEY in the "
        "environment instead (the spec is stored with every run)",
        line=line,
        column=column,
    )


def _refuse_parsed_keys(data: Any, path_label: str, text: str) -> None:
    """The same refusal on the parsed strings: TOML escapes (`sk\\u002dant-...`) and line
    continuations write a key that the raw text does not show."""
    found = _key_in(data, ())
    if found is None:
        return
    field = format_loc(found)
    raise SpecError(
        path_label,
        "an API key is written in the spec (through TOML escapes); remove it and set "
        "ANTHROPIC_API_KEY in the environment instead (the spec is stored with every run)",
        field=field,
        line=locate_field(text, field),
    )


def _key_in(value: Any, loc: tuple[int | str, ...]) -> tuple[int | str, ...] | None:
    """Where the first string holding a key is, as a field path, or None."""
    if isinstance(value, str):
        return loc if find_key(value) is not None else None
    if isinstance(value, dict):
        for k, v in value.items():
            if find_key(str(k)) is not None:
                return (*loc, str(k))
            hit = _key_in(v, (*loc, str(k)))
            if hit is not None:
                return hit
    elif isinstance(value, list):
        for i, v in enumerate(value):
            hit = _key_in(v, (*loc, i))
            if hit is not None:
                return hit
    return None


def _end_position(text: str) -> tuple[int, int]:
    """line:column just past the last character, as an editor counts them."""
    lines = text.split("\n")
    return len(lines), len(lines[-1]) + 1


def validate_spec_data(data: Any, path_label: str, text: str = "") -> Spec:
    try:
        spec = Spec.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        first = errors[0]
        field = format_loc(tuple(first["loc"])) or "(top level)"
        message = _pydantic_message(first)
        more = len(errors) - 1
        if more:
            message += f" (and {more} more problem{'s' if more > 1 else ''})"
        line = locate_field(text, field) if text else None
        raise SpecError(path_label, message, field=field, line=line) from None
    except RecursionError:
        raise SpecError(path_label, "the spec is nested too deeply") from None
    try:
        check_spec(spec)
    except SpecProblem as exc:
        line = locate_field(text, exc.location) if text else None
        raise SpecError(path_label, exc.message, field=exc.location, line=line) from None
    return spec


def _pydantic_message(error: Any) -> str:
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        return "unknown key (check the spelling; see docs/spec-reference.md)"
    if kind == "missing":
        return "required field is missing"
    msg = str(error.get("msg", "invalid value"))
    if kind == "value_error":  # our own validators' messages are whole sentences already
        msg = msg.removeprefix("Value error, ")
    value = error.get("input")
    if kind.endswith("_type") or kind.startswith("literal"):
        shown = repr(value)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        return f"{msg}, got {shown}"
    return msg


def load_spec(path: str | Path) -> LoadedSpec:
    """Read, parse and validate a spec file. Raises only `SpecError`."""
    p = Path(path)
    label = str(path)
    try:
        if p.is_dir():
            raise SpecError(label, "is a folder, not a spec file")
        raw = read_bounded(p, MAX_SPEC_BYTES)  # never trusts st_size: devices, pipes
    except TooLarge:
        raise SpecError(label, f"the file is larger than {MAX_SPEC_BYTES // 1024} KiB") from None
    except IsADirectoryError:
        raise SpecError(label, "is a folder, not a spec file") from None
    except FileNotFoundError:
        raise SpecError(label, "no such file") from None
    except PermissionError:
        raise SpecError(label, "permission denied") from None
    except OSError as exc:
        raise SpecError(label, f"cannot read: {exc.strerror or exc}") from None
    return parse_spec_bytes(raw, label, p)


def parse_spec_bytes(raw: bytes, label: str = "<spec>", path: Path | None = None) -> LoadedSpec:
    """Decode, parse and validate a spec file's bytes. Raises only `SpecError`."""
    if len(raw) > MAX_SPEC_BYTES:
        raise SpecError(label, f"the file is larger than {MAX_SPEC_BYTES // 1024} KiB")
    text = _decode(label, raw)
    return LoadedSpec(spec=parse_spec_text(text, label), path=path, text=text)


def _toml_value(value: Any) -> str:
    """One TOML value, quoted and escaped by tomli-w (a name is user text)."""
    return tomli_w.dumps({"v": value}).split("=", 1)[1].strip()


STARTER = """\
# {name}: a starter spec written by `oneie new`. Every line below can be changed; the
# examples in specs/ show more patterns, and docs/spec-reference.md lists every key.

[feature]
name = {name_value}
description = {description}
# What "done" means; every agent sees these, with the constraints, as shared context.
acceptance = ["It works end to end", "It is covered by tests"]
constraints = ["Keep the public API stable"]

# The shared vocabulary: things, how they connect, and the events they raise.
[feature.ontology]
things = [{thing}]
connections = []
events = [{event}]

[run]
backend = "sim"          # sim (no key, simulated) | claude | command | claude-code
max_parallel = 0         # 0 = no limit: every agent that can start, starts at once
on_failure = "cancel"    # cancel the others when one fails | continue

# Three agents: the backend and the frontend overlap as soon as the schema is ready; the
# quality agent waits for both. `emits` names events an agent announces, `after` waits
# for them. `sim` sets a simulated agent's duration (seconds; --speed scales it).
[[agents]]
id = "agent-backend"
role = "backend"
task = "Schema, mutations, queries and services"
emits = ["schema_ready", "backend_ready"]
sim = {{ duration = 2.0, events = {{ schema_ready = 0.6 }} }}

[[agents]]
id = "agent-frontend"
role = "frontend"
task = "Views and forms"
after = ["schema_ready"]
emits = ["frontend_ready"]
sim = {{ duration = 1.5 }}

[[agents]]
id = "agent-quality"
role = "quality"
task = "Tests and acceptance validation"
after = ["backend_ready", "frontend_ready"]
sim = {{ duration = 1.0 }}
"""


def starter_spec(name: str) -> str:
    """A small valid spec for `oneie new`, commented like the examples."""
    slug = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "feature"
    title = "".join(c for c in " ".join(name.split()) if c.isprintable())[:80] or "feature"  # one comment line
    return STARTER.format(
        name=title,
        name_value=_toml_value(name),
        description=_toml_value(f"What {name} does for its users."),
        thing=_toml_value(slug),
        event=_toml_value(f"{slug}_created"),
    )
