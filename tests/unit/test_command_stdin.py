"""The `command` backend takes messages on stdin when its spec says `stdin = true`: each
message is one line, while it runs and as the first line of a follow-up attempt. Without
it a message is refused with how to switch it on."""

from __future__ import annotations

from pathlib import Path

import anyio

from oneie_tui.engine.runner import Runner
from oneie_tui.events import EventType
from tests.fakes.process_tools import PY, loaded, of_type, outputs, run_spec, script, status_of

ECHO = """
import sys
print("ready", flush=True)
for line in sys.stdin:
    line = line.rstrip("\\n")
    print("got: " + line, flush=True)
    if line.startswith("stop"):
        break
"""


def test_messages_are_lines_on_stdin_and_a_follow_up_runs_it_again(tmp_path: Path) -> None:
    body = script(tmp_path, "echo.py", ECHO)
    spec = loaded([
        {"id": "echo", "command": {"argv": [PY, body], "stdin": True}},
        {"id": "keeper", "command": {"argv": [PY, body], "stdin": True}},  # keeps the run live
    ])
    answers: list[str | None] = []

    async def talk(runner: Runner) -> None:
        seen: list[str] = []
        runner.bus.subscribe(lambda e: seen.append(str(e.metadata.get("text"))), EventType.AGENT_OUTPUT)
        with anyio.fail_after(20):
            while "ready" not in seen:
                await anyio.sleep(0.01)
            answers.append(runner.send_message("echo", "first\nof two lines"))
            while "got: first of two lines" not in seen:
                await anyio.sleep(0.01)
            answers.append(runner.send_message("echo", "stop now"))
            while runner.agents["echo"].status != "completed":
                await anyio.sleep(0.01)
            answers.append(runner.send_message("echo", "stop again, from the top"))
            while runner.agents["echo"].attempt < 2 or runner.agents["echo"].status != "completed":
                await anyio.sleep(0.01)
            answers.append(runner.send_message("keeper", "stop"))

    runner, events = run_spec(spec, tmp_path, controller=talk)
    assert answers == [None, None, None, None]
    assert outputs(events, "echo", "stdout") == [
        "ready", "got: first of two lines", "got: stop now",
        "ready", "got: stop again, from the top",
    ]
    deliveries = [(e.metadata["delivery"], e.metadata["attempt"]) for e in of_type(events, EventType.AGENT_MESSAGE, "echo")]
    assert deliveries == [("live", 1), ("live", 1), ("followup", 2)]
    assert status_of(events, "echo") == "completed"


def test_without_stdin_a_message_is_refused_with_how_to_enable_it(tmp_path: Path) -> None:
    body = script(tmp_path, "wait.py", "import time\nprint('up', flush=True)\ntime.sleep(0.5)\n")
    spec = loaded([{"id": "plain", "command": {"argv": [PY, body]}}])
    refused: list[str | None] = []

    async def talk(runner: Runner) -> None:
        with anyio.fail_after(20):
            while runner.agents["plain"].status != "running":
                await anyio.sleep(0.01)
            refused.append(runner.send_message("plain", "hello"))

    _, events = run_spec(spec, tmp_path, controller=talk)
    assert refused == [
        "plain: this command agent reads no messages: set `stdin = true` in its command table "
        "(command = { argv = [...], stdin = true }) to get each one as a line on its stdin"
    ]
    assert not of_type(events, EventType.AGENT_MESSAGE)
