"""The control channel: how `oneie emit` / `oneie progress`, run from any process an agent
starts, reach the live runner.

The runner serves a Unix socket in a private temporary folder (mode 0700, so only this user
can reach it). Each agent attempt gets environment variables naming the socket, the run, the
agent and a random per-attempt token; the token, not the claimed agent id, decides who is
speaking, and it stops working when that attempt ends.

Wire format: one JSON object per line each way.
    → {"op": "emit", "token": T, "action": "schema_ready", "metadata": {...}}
    → {"op": "progress", "token": T, "percent": 40, "note": "forms"}
    ← {"ok": true, "seq": 17}            or  {"ok": false, "error": "..."}

`oneie send RUN AGENT TEXT` speaks to the same socket from the user's terminal (no token:
the socket is reachable by this user only; its path is in the run's `run_started`):
    → {"op": "send", "agent": "backend", "text": "use the new schema"}
    ← {"ok": true, "delivery": "live"}   or  {"ok": false, "error": "...", "unknown": true}

The client half (`send`, `exchange`) is stdlib only, so `oneie emit` starts fast.
"""

from __future__ import annotations

import atexit
import json
import os
import secrets
import shutil
import socket
import struct
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from anyio.abc import SocketStream

    from oneie_tui.agents.base import AgentContext
    from oneie_tui.engine.runner import Runner

ENV_CONTROL = "ONEIE_CONTROL"
ENV_RUN = "ONEIE_RUN_ID"
ENV_AGENT = "ONEIE_AGENT_ID"
ENV_TOKEN = "ONEIE_AGENT_TOKEN"
MAX_REQUEST = 256 * 1024
CLIENT_TIMEOUT = 10.0
_SUN_PATH_MAX = 100  # sockaddr_un holds ~104-108 bytes depending on the OS


_open_dirs: set[Path] = set()  # removed at interpreter exit if a run could not clean up


@atexit.register
def _remove_leftovers() -> None:
    for folder in list(_open_dirs):
        shutil.rmtree(folder, ignore_errors=True)


class ControlUnavailable(Exception):
    """Not inside a live run (no variables, or the run is gone). Exit code 2."""


class ControlRefused(Exception):
    """The runner answered no (agent not running, bad event name...). Exit code 1."""


# --- client (runs inside agent processes) ------------------------------------------


def send(request: dict[str, Any], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Send one request to the run this process belongs to; the runner's answer."""
    environ = os.environ if env is None else env
    path = environ.get(ENV_CONTROL, "")
    token = environ.get(ENV_TOKEN, "")
    if not path or not token:
        raise ControlUnavailable(
            "not inside a oneie run: this command works only in processes started by an agent "
            f"of a running spec ({ENV_CONTROL} and {ENV_TOKEN} are not set)"
        )
    answer = exchange(path, {**request, "token": token}, environ.get(ENV_RUN, "?"))
    if not answer.get("ok"):
        raise ControlRefused(str(answer.get("error", "refused")))
    return answer


def exchange(path: str, request: dict[str, Any], run_id: str) -> dict[str, Any]:
    """One request to the control socket at `path`; the runner's answer, ok or not."""
    payload = json.dumps(request).encode() + b"\n"
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(CLIENT_TIMEOUT)
            sock.connect(path)
            sock.sendall(payload)
            data = b""
            while not data.endswith(b"\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
    except (FileNotFoundError, ConnectionRefusedError):
        raise ControlUnavailable(
            f"the oneie run {run_id} is not live any more (no control socket at {path})"
        ) from None
    except OSError as exc:
        raise ControlUnavailable(f"cannot reach the oneie run at {path}: {exc}") from None
    try:
        answer = json.loads(data)
    except json.JSONDecodeError:
        raise ControlUnavailable("the oneie run closed the connection without an answer") from None
    if not isinstance(answer, dict):
        raise ControlUnavailable("the oneie run sent a malformed answer")
    return answer


def deliver(runner: Runner | None, request: dict[str, Any]) -> dict[str, Any]:
    """The `send` op: a message from the user to one agent (`Runner.send_message`)."""
    from oneie_tui.events import (
        FOLLOW_UP_STATUSES,  # the server's half: the client stays stdlib only
    )

    if runner is None:
        return {"ok": False, "error": "this channel has no run to deliver messages to"}
    agent_id = request.get("agent")
    if not isinstance(agent_id, str) or agent_id not in runner.agents:
        known = ", ".join(runner.agents)
        return {"ok": False, "unknown": True, "error": f"no agent {agent_id!r} in run {runner.run_id} (agents: {known})"}
    state = runner.agents[agent_id]
    delivery = "followup" if state.status in FOLLOW_UP_STATUSES else "live"
    text = request.get("text")
    refused = runner.send_message(agent_id, text if isinstance(text, str) else "")
    if refused is not None:
        return {"ok": False, "error": refused}
    return {"ok": True, "delivery": delivery}


# --- server (runs in the runner's process) -------------------------------------------


def peer_pid(stream: SocketStream) -> int | None:
    """The process at the other end of a Unix socket connection (Linux: SO_PEERCRED)."""
    import anyio
    from anyio.abc import SocketAttribute

    peercred = getattr(socket, "SO_PEERCRED", None)
    if peercred is None:
        return None
    try:
        raw = stream.extra(SocketAttribute.raw_socket)
        pid, _uid, _gid = struct.unpack("3i", raw.getsockopt(socket.SOL_SOCKET, peercred, struct.calcsize("3i")))
    except (OSError, struct.error, anyio.TypedAttributeLookupError):
        return None
    return pid if pid > 0 else None


class ControlChannel:
    """The socket and the table of live agent attempts. The socket is bound on first use
    (the service start, or an agent's variables, whichever comes first) so a child that
    connects before the service task runs is queued, not refused; it is removed when the
    run ends, and a run continued later binds a fresh one."""

    def __init__(self, info: dict[str, Any] | None = None) -> None:
        self.dir: Path | None = None
        self.path: Path | None = None
        self._sock: socket.socket | None = None
        self._agents: dict[str, AgentContext] = {}
        self._runner: Runner | None = None
        # Where `oneie send` finds the socket: the runner's run_info (in `run_started`).
        self._info = info
        self._last_dir: Path | None = None  # a run continued later binds at the same path

    def _make_dir(self) -> Path:
        last = self._last_dir
        if last is not None:
            try:
                os.mkdir(last, 0o700)
                return last
            except OSError:  # taken meanwhile: a new one (its path goes in run_info)
                pass
        base = None if len(tempfile.gettempdir()) < _SUN_PATH_MAX - 40 else "/tmp"  # short path: AF_UNIX limit
        return Path(tempfile.mkdtemp(prefix="oneie-", dir=base))  # mode 0700

    def bind(self) -> Path:
        """Bind now (before the run starts), so the path is known to `run_started`."""
        return self._ensure_bound()

    def _ensure_bound(self) -> Path:
        if self._sock is not None and self.path is not None:
            return self.path
        self.dir = self._make_dir()
        self._last_dir = self.dir
        _open_dirs.add(self.dir)
        self.path = self.dir / "control.sock"
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(str(self.path))
        os.chmod(self.path, 0o600)
        sock.listen(128)
        self._sock = sock
        if self._info is not None:
            self._info["control"] = str(self.path)
        return self.path

    def env_for(self, ctx: AgentContext) -> dict[str, str]:
        """Variables for one agent attempt's processes."""
        path = self._ensure_bound()
        token = secrets.token_urlsafe(24)
        self._agents[token] = ctx
        return {
            ENV_CONTROL: str(path),
            ENV_RUN: ctx.run_id,
            ENV_AGENT: ctx.agent_id,
            ENV_TOKEN: token,
        }

    def handle(self, request: Any, peer_pid: int | None = None) -> dict[str, Any]:
        """Answer one request (on the event loop: publishing is not thread-safe).
        `peer_pid` is the client's process, when the platform tells it."""
        if not isinstance(request, dict):
            return {"ok": False, "error": "request must be a JSON object"}
        op = request.get("op")
        if op == "ping":
            return {"ok": True}
        if op == "send":
            # A message is the user's word: an agent's process (it knows this socket's
            # path) may not speak as the user to the agents of the run.
            from oneie_tui.agents.procgroup import is_agent_process

            if peer_pid is not None and is_agent_process(peer_pid):
                return {"ok": False, "error": "messages to agents come from the user, not from an agent's processes"}
            return deliver(self._runner, request)
        ctx = self._agents.get(str(request.get("token", "")))
        if ctx is None:
            return {"ok": False, "error": "unknown agent token (this process does not belong to the run)"}
        if not self._is_current(ctx):
            return {"ok": False, "error": f"agent {ctx.agent_id} is not running any more"}
        from oneie_tui.agents.lineproto import check_action
        from oneie_tui.trust import numbers

        if op == "emit":
            action = str(request.get("action", ""))
            reason = check_action(action)
            if reason:
                return {"ok": False, "error": reason}
            metadata = request.get("metadata") or {}
            if not isinstance(metadata, dict):
                return {"ok": False, "error": "metadata must be a JSON object"}
            undeclared = ctx.undeclared(action)
            if undeclared:
                ctx.emit(action)  # recorded as ignored, with the reason
                return {"ok": False, "error": undeclared}
            event = ctx.emit(action, {"via": "oneie emit", **metadata})
            return {"ok": True, "seq": event.seq}
        if op == "progress":
            try:
                percent = numbers.percent(request.get("percent"))
            except ValueError:
                return {"ok": False, "error": "percent must be a number from 0 to 100"}
            ctx.progress(percent, str(request.get("note", ""))[:500])
            return {"ok": True}
        return {"ok": False, "error": f"unknown op {op!r}"}

    def _is_current(self, ctx: AgentContext) -> bool:
        if self._runner is None:
            return True
        state = self._runner.agents.get(ctx.agent_id)
        return state is not None and state.ctx is ctx and not state.terminal

    async def serve(self, runner: Runner | None) -> None:
        """The service: answer clients until the run ends, then remove the socket."""
        import anyio
        from anyio.abc import SocketListener
        from anyio.streams.buffered import BufferedByteReceiveStream

        from oneie_tui.trust import json_bounds

        self._runner = runner
        self._ensure_bound()
        sock = self._sock
        assert sock is not None

        async def client(stream: SocketStream) -> None:
            async with stream:
                reply: dict[str, Any]
                try:
                    with anyio.fail_after(CLIENT_TIMEOUT):
                        line = await BufferedByteReceiveStream(stream).receive_until(b"\n", MAX_REQUEST)
                    reply = self.handle(json_bounds.loads(line), peer_pid(stream))
                except (json.JSONDecodeError, UnicodeDecodeError):
                    reply = {"ok": False, "error": "request is not valid JSON"}
                except ValueError as exc:  # nested too deep, NaN: refused, never fatal
                    reply = {"ok": False, "error": f"request refused: {exc}"}
                except (anyio.IncompleteRead, anyio.DelimiterNotFound, TimeoutError):
                    return
                except Exception as exc:  # a bad request must never end the run
                    reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
                try:
                    await stream.send(json.dumps(reply).encode() + b"\n")
                except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                    pass

        try:
            listener = await SocketListener.from_socket(sock)
            async with listener:
                await listener.serve(client)
        finally:
            self.close()

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()  # harmless when the listener already closed it
            self._sock = None
        self._agents.clear()
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            _open_dirs.discard(self.dir)
        self.dir = self.path = None
