"""Starting a process without holding up the event loop (Linux with pidfd; elsewhere anyio).

`anyio.open_process` forks on the event loop thread (about 1.5 ms each here) and asyncio
then parks one thread per child in `waitpid`: 1,000 agents start one after another. Here
the fork runs in a worker thread (the fork releases the GIL, so several run at once and the
loop goes on), the pipes are read with `anyio.wait_readable`, and the exit is a pidfd
turning readable on the loop, one file descriptor per child instead of a thread.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Mapping, Sequence
from typing import IO, Any

import anyio
from anyio.abc import ByteReceiveStream, ByteSendStream, Process

CHUNK = 65536


class PipeReader(ByteReceiveStream):
    """The read end of a pipe as an anyio byte stream (non-blocking reads on the loop)."""

    def __init__(self, pipe: IO[bytes]) -> None:
        self._pipe = pipe  # owns the descriptor: closing it closes the pipe
        self._fd: int | None = pipe.fileno()
        os.set_blocking(self._fd, False)

    async def receive(self, max_bytes: int = CHUNK) -> bytes:
        while True:
            fd = self._fd
            if fd is None:
                raise anyio.ClosedResourceError
            try:
                data = os.read(fd, max_bytes)
            except BlockingIOError:
                await anyio.wait_readable(fd)
                continue
            except OSError:
                raise anyio.BrokenResourceError from None
            if not data:
                raise anyio.EndOfStream
            return data

    async def aclose(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            anyio.notify_closing(fd)
            self._pipe.close()


class PipeWriter(ByteSendStream):
    """The write end of a pipe as an anyio byte stream (non-blocking writes on the loop)."""

    def __init__(self, pipe: IO[bytes]) -> None:
        self._pipe = pipe
        self._fd: int | None = pipe.fileno()
        os.set_blocking(self._fd, False)

    async def send(self, item: bytes) -> None:
        view = memoryview(item)
        while view:
            fd = self._fd
            if fd is None:
                raise anyio.ClosedResourceError
            try:
                view = view[os.write(fd, view):]
            except BlockingIOError:
                await anyio.wait_writable(fd)
            except OSError:  # the reader is gone (EPIPE)
                raise anyio.BrokenResourceError from None

    async def aclose(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            anyio.notify_closing(fd)
            self._pipe.close()


class PidfdProcess:
    """What `ProcessGroup` needs of a process: pid, returncode, pipes, wait, aclose."""

    def __init__(self, popen: subprocess.Popen[bytes], pidfd: int) -> None:
        self._popen = popen
        self.pid = popen.pid
        self._pidfd: int | None = pidfd
        self.spawned_at = time.monotonic()  # when the fork began (time.monotonic())
        assert popen.stdout is not None and popen.stderr is not None
        self.stdout: ByteReceiveStream | None = PipeReader(popen.stdout)
        self.stderr: ByteReceiveStream | None = PipeReader(popen.stderr)
        self.stdin: ByteSendStream | None = PipeWriter(popen.stdin) if popen.stdin is not None else None

    @property
    def returncode(self) -> int | None:
        """The exit code once the leader has exited (reaping it then: one waitpid)."""
        if self._popen.returncode is None and self._pidfd is not None:
            self._reap()
        return self._popen.returncode

    async def wait(self) -> int:
        while self._popen.returncode is None:
            pidfd = self._pidfd
            if pidfd is None:
                raise anyio.ClosedResourceError
            await anyio.wait_readable(pidfd)
            self._reap()
        return self._popen.returncode

    def _reap(self) -> None:
        try:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:  # reaped by someone else: the status is lost
            self._popen.returncode = 255
            return
        if pid:
            self._popen.returncode = os.waitstatus_to_exitcode(status)

    async def aclose(self) -> None:
        if self.stdin is not None:
            await self.stdin.aclose()
        for stream in (self.stdout, self.stderr):
            if stream is not None:
                await stream.aclose()
        try:
            await self.wait()
        finally:
            pidfd, self._pidfd = self._pidfd, None
            if pidfd is not None:
                anyio.notify_closing(pidfd)
                os.close(pidfd)


class NoPidfd(Exception):
    """This kernel (or sandbox) gives no pidfd: start processes the anyio way instead."""


def _popen(
    argv: list[str], cwd: Any, env: dict[str, str] | None, stdin: bool = False
) -> tuple[subprocess.Popen[bytes], int, float]:
    spawned = time.monotonic()
    popen = subprocess.Popen(
        argv,
        stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=cwd,
        env=env,
        start_new_session=True,
        bufsize=0,  # raw pipes: the readers do their own buffering
    )
    try:
        return popen, os.pidfd_open(popen.pid), spawned
    except OSError:
        os.killpg(popen.pid, 9)
        popen.wait()
        for pipe in (popen.stdin, popen.stdout, popen.stderr):
            if pipe is not None:
                pipe.close()
        raise NoPidfd from None


_pidfd_ok = hasattr(os, "pidfd_open")


async def open_session_process(
    argv: Sequence[str], *, cwd: str | os.PathLike[str] | None, env: Mapping[str, str] | None,
    stdin: bool = False,
) -> Process | PidfdProcess:
    """Start `argv` in a new session with stdout/stderr piped, and stdin closed (or piped,
    with `stdin`: the agent's messages are written there)."""
    global _pidfd_ok
    env_dict = dict(env) if env is not None else None
    if _pidfd_ok:
        try:
            popen, pidfd, spawned = await anyio.to_thread.run_sync(_popen, list(argv), cwd, env_dict, stdin)
            process = PidfdProcess(popen, pidfd)
            process.spawned_at = spawned
            return process
        except NoPidfd:
            _pidfd_ok = False
    return await anyio.open_process(
        list(argv),
        stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=cwd,
        env=env_dict,
        start_new_session=True,
    )
