"""Line splitting of process output: cut lines are marked once, with nothing invented."""

from __future__ import annotations

import anyio
import pytest

from oneie_tui.agents.process import pump_lines


class Chunks:
    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = list(chunks)

    async def receive(self) -> bytes:
        if not self.chunks:
            raise anyio.EndOfStream
        return self.chunks.pop(0)


@pytest.mark.parametrize(
    ("chunks", "lines"),
    [
        ([b"x" * 20 + b"\nok\n"], ["x" * 10 + " …[line cut]", "ok"]),
        ([b"x" * 12, b"x" * 12 + b"\nok\n"], ["x" * 10 + " …[line cut]", "ok"]),
        ([b"abc\n", b"x" * 25], ["abc", "x" * 10 + " …[line cut]"]),
        ([b"a\r\nb", b"c\n\n"], ["a", "bc", ""]),
        ([b"\xff\n"], ["\ufffd"]),
    ],
)
def test_lines_are_split_and_cut(chunks: list[bytes], lines: list[str]) -> None:
    out: list[str] = []

    async def main() -> None:
        await pump_lines(Chunks(chunks), out.append, max_line=10)  # type: ignore[arg-type]

    anyio.run(main)
    assert out == lines
