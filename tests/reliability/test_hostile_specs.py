"""Hostile spec files: each gives exit 2 and one clear message naming the file, never a
traceback (issue 7, item 7)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.helpers import no_traceback, oneie

VALID_HEAD = '[feature]\nname = "x"\n'
AGENT = '[[agents]]\nid = "a{i}"\n'


def _cases(tmp: Path) -> dict[str, tuple[Path, str]]:
    """name → (file, a word the message must contain)."""
    cases: dict[str, tuple[bytes, str]] = {
        "over_1_mib": ((VALID_HEAD + "# " + "x" * (1024 * 1024) + "\n").encode(), "larger than"),
        "nested_10000": (
            (VALID_HEAD + "deep = " + "[" * 10_000 + "]" * 10_000 + "\n").encode(),
            "nested",
        ),
        "invalid_utf8": (VALID_HEAD.encode() + b'[[agents]]\nid = "\xff\xfe"\n', "UTF-8"),
        "empty": (b"", "empty"),
        "whitespace_only": (b"  \n\n\t\n", "empty"),
        "binary": (bytes(range(256)) * 16, "binary"),
        "unknown_key": ((VALID_HEAD + AGENT.format(i=0) + "colour = 'red'\n").encode(), "unknown key"),
        "wrong_type": (
            (VALID_HEAD + "[run]\nmax_parallel = 'lots'\n" + AGENT.format(i=0)).encode(),
            "max_parallel",
        ),
        "cycle": (
            (
                VALID_HEAD
                + '[[agents]]\nid = "a"\nafter = ["b_done"]\nemits = ["a_done"]\n'
                + '[[agents]]\nid = "b"\nafter = ["a_done"]\nemits = ["b_done"]\n'
            ).encode(),
            "cycle",
        ),
        "agents_10000": (
            (VALID_HEAD + "".join(AGENT.format(i=i) for i in range(10_000))).encode(),
            "agents",
        ),
        "toml_syntax": ((VALID_HEAD + "[[agents]\nid = 1\n").encode(), "TOML"),
    }
    out = {}
    for name, (data, word) in cases.items():
        path = tmp / f"{name}.toml"
        path.write_bytes(data)
        out[name] = (path, word)
    return out


CASE_NAMES = [
    "over_1_mib", "nested_10000", "invalid_utf8", "empty", "whitespace_only", "binary",
    "unknown_key", "wrong_type", "cycle", "agents_10000", "toml_syntax",
]


@pytest.mark.parametrize("name", CASE_NAMES)
@pytest.mark.parametrize("command", ["validate", "run"])
def test_hostile_spec_gives_exit_2_and_one_line(tmp_path: Path, name: str, command: str) -> None:
    path, word = _cases(tmp_path)[name]
    args = [command, str(path)] + (["--headless"] if command == "run" else [])
    result = oneie(*args)
    assert result.returncode == 2, result.stderr
    assert no_traceback(result.stderr + result.stdout)
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    assert str(path) in lines[0]
    assert word.lower() in lines[0].lower(), lines[0]
    # A refused spec records nothing.
    assert "run_started" not in result.stdout
