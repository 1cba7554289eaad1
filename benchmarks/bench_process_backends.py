"""Benchmark: process agents (the `command` backend), measured side by side in one run.

- output: a command printing N lines, read, split and published as events (lines/s), plain
  output vs. `::oneie progress` protocol lines;
- signalling: a round trip to the runner from a child process, over the control socket
  (requests/s from one client that stays up) and as a whole `oneie emit` process (ms each,
  Python start-up included);
- pause: `runner.pause` until every process of a 3-process group is in state T (ms);
- cancel: `runner.cancel` until the agent is ended and its group gone, for a group that
  exits on SIGTERM and for one that ignores it (grace 0.5 s, then SIGKILL) (ms).

Usage: python benchmarks/bench_process_backends.py [--repeat N] [--lines N]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import textwrap
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from oneie_tui.agents.base import BackendOptions
from oneie_tui.engine.runner import Runner
from oneie_tui.engine.session import RunOptions, build_runner
from tests.fakes.process_tools import group_members, loaded, proc_stat

PY = sys.executable


def _run(spec_agents: list[dict[str, object]], folder: Path, control: Callable[[Runner], Awaitable[None]] | None = None) -> Runner:
    runner = build_runner(loaded(spec_agents), RunOptions(backend_options=BackendOptions(project_dir=str(folder))), None)

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            if control is not None:

                async def go() -> None:
                    await control(runner)

                tg.start_soon(go)
            await runner.run()
            tg.cancel_scope.cancel()

    anyio.run(main)
    return runner


def output_rate(folder: Path, lines: int, protocol: bool) -> float:
    line = "::oneie progress 50 working" if protocol else "building the forms of course 42"
    code = f"import sys\nw = sys.stdout.write\nfor _ in range({lines}):\n    w({line!r} + '\\n')\n"
    count = {"n": 0}
    kind = "agent_progress" if protocol else "agent_output"

    async def counter(runner: Runner) -> None:
        runner.bus.subscribe(lambda e: count.__setitem__("n", count["n"] + 1), kind)

    started = time.perf_counter()
    _run([{"id": "printer", "command": {"argv": [PY, "-c", code]}}], folder, counter)
    elapsed = time.perf_counter() - started
    assert count["n"] >= lines, count
    return lines / elapsed


def socket_round_trips(folder: Path, n: int) -> tuple[float, float]:
    """(requests/s over the socket from one long-lived child, ms per `oneie emit` process)"""
    loop = textwrap.dedent(
        f"""
        import time
        from oneie_tui.engine.control_socket import send
        t = time.perf_counter()
        for i in range({n}):
            send({{"op": "progress", "percent": i % 100}})
        print("rate", {n} / (time.perf_counter() - t))
        t = time.perf_counter()
        import subprocess
        for i in range(10):
            subprocess.run(["oneie", "emit", "bench_done"], check=True, capture_output=True)
        print("emit_ms", (time.perf_counter() - t) / 10 * 1000)
        """
    )
    out: dict[str, float] = {}

    async def grab(runner: Runner) -> None:
        def on(e: object) -> None:
            text = str(getattr(e, "metadata", {}).get("text", ""))
            key, _, value = text.partition(" ")
            if key in ("rate", "emit_ms"):
                out[key] = float(value)

        runner.bus.subscribe(on, "agent_output")

    env = {"PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    _run([{"id": "talker", "emits": ["bench_done"], "command": {"argv": [PY, "-c", loop], "env": env}}], folder, grab)
    return out["rate"], out["emit_ms"]


HOLD = """
import signal, subprocess, sys, time
if sys.argv[1] == "stubborn":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
kids = [subprocess.Popen(["sleep", "1000"]) for _ in range(2)]
print("ready", flush=True)
while True:
    time.sleep(0.05)
"""


def pause_and_cancel(folder: Path, mode: str) -> tuple[float, float]:
    """(ms from pause to all-T, ms from cancel to the agent ended and its group gone)"""
    script = folder / "hold.py"
    script.write_text(HOLD)
    result: dict[str, float] = {}

    async def drive(runner: Runner) -> None:
        ready = anyio.Event()
        pid: dict[str, int] = {}
        runner.bus.subscribe(lambda e: ready.set() if e.metadata.get("text") == "ready" else None, "agent_output")
        runner.bus.subscribe(lambda e: pid.setdefault("pid", int(e.metadata["pid"])) if "pid" in e.metadata else None, "agent_info")
        await ready.wait()
        members = group_members(pid["pid"])
        t = time.perf_counter()
        runner.pause("holder")
        while not all((proc_stat(p) or ("?",))[0] == "T" for p in members):
            await anyio.sleep(0.0005)
        result["pause_ms"] = (time.perf_counter() - t) * 1000
        runner.resume("holder")
        t = time.perf_counter()
        runner.cancel("holder")
        while not runner.agents["holder"].terminal or group_members(pid["pid"]):
            await anyio.sleep(0.0005)
        result["cancel_ms"] = (time.perf_counter() - t) * 1000

    _run([{"id": "holder", "command": {"argv": [PY, str(script), mode], "grace_seconds": 0.5}}], folder, drive)
    return result["pause_ms"], result["cancel_ms"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--lines", type=int, default=200_000)
    args = parser.parse_args()
    os.environ["PATH"] = str(Path(PY).parent) + os.pathsep + os.environ.get("PATH", "")
    figures: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for _ in range(args.repeat):
            figures.setdefault("output lines/s", []).append(output_rate(folder, args.lines, False))
            figures.setdefault("protocol lines/s", []).append(output_rate(folder, args.lines, True))
            rate, emit_ms = socket_round_trips(folder, 2000)
            figures.setdefault("socket requests/s", []).append(rate)
            figures.setdefault("`oneie emit` process ms", []).append(emit_ms)
            for mode in ("polite", "stubborn"):
                pause_ms, cancel_ms = pause_and_cancel(folder, mode)
                figures.setdefault(f"pause ms ({mode})", []).append(pause_ms)
                figures.setdefault(f"cancel ms ({mode})", []).append(cancel_ms)
    print(f"machine: {os.cpu_count()} cpus, {platform.machine()}, Python {platform.python_version()}")
    for name, values in figures.items():
        print(f"{name:28s} median {statistics.median(values):12,.1f}   runs {[round(v, 1) for v in values]}")


if __name__ == "__main__":
    main()
