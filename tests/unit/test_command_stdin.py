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


LEAVER = """
import subprocess, sys
# a child that ignores SIGTERM: the attempt lasts past the command's own exit, until oneie
# kills what it left behind (LEFTOVER_GRACE)
child = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('child', flush=True); time.sleep(5)"
subprocess.Popen([sys.executable, "-c", child], stdin=subprocess.DEVNULL)  # stdin: the command's only
import time; time.sleep(0.3)  # the child has set its handler
print("bye", flush=True)
"""


def test_a_message_that_comes_as_the_command_ends_is_reported_not_lost(tmp_path: Path) -> None:
    body = script(tmp_path, "leaver.py", LEAVER)
    spec = loaded([{"id": "leaver", "command": {"argv": [PY, body], "stdin": True}}])
    answers: list[str | None] = []

    async def talk(runner: Runner) -> None:
        seen: list[str] = []
        runner.bus.subscribe(lambda e: seen.append(str(e.metadata.get("text"))), EventType.AGENT_OUTPUT)
        with anyio.fail_after(20):
            while "bye" not in seen:
                await anyio.sleep(0.01)
            await anyio.sleep(0.2)  # its process has exited; the attempt waits for the child
            answers.append(runner.send_message("leaver", "too\nlate"))
            while not any(line.startswith("[message not delivered") for line in seen):
                await anyio.sleep(0.01)
            answers.append(runner.send_message("leaver", "later still"))  # the feed has stopped

    runner, events = run_spec(spec, tmp_path, controller=talk)
    assert answers == [None, None]
    assert [e.metadata["delivery"] for e in of_type(events, EventType.AGENT_MESSAGE, "leaver")] == ["live", "live"]
    # its stdin had no reader any more: the user is told, by the feed (the pipe was
    # closed), then once the attempt ends (the message came after the feed stopped)
    told = [line for line in outputs(events, "leaver", "stderr") if line.startswith("[message not delivered")]
    assert told == [
        "[message not delivered: the command closed its stdin]",
        "[message not delivered: the command had ended: later still]",
    ]
