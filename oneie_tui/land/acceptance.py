"""Acceptance criteria that run: each `{ text, check = [argv], timeout }` of the spec runs
in a clean worktree of the landed commit, with the command agents' process rules (no
shell, its own process group, ended as a whole on timeout or cancel), and is recorded as
`acceptance_validated` or `acceptance_failed` with the tail of its output."""

from __future__ import annotations

import os
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio

from oneie_tui.agents.procgroup import ProcessGroup
from oneie_tui.events import EventType
from oneie_tui.git.worktree import WorktreeError, git
from oneie_tui.land.landing import Publish
from oneie_tui.spec.model import AcceptanceCheck
from oneie_tui.trust.redact import redact

TAIL_CHARS = 2000
CLEANUP_TIMEOUT = 60.0


@dataclass
class CheckResult:
    text: str
    argv: list[str]
    passed: bool
    exit_code: int | None
    duration_s: float
    output_tail: str
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "check": self.argv,
            "passed": self.passed,
            "exit_code": self.exit_code,
            "duration_s": round(self.duration_s, 3),
            "output_tail": self.output_tail,
            **({"error": self.error} if self.error else {}),
        }


async def _collect(stream: Any, tail: deque[str]) -> None:
    decoder_buf = b""
    async for chunk in stream:
        decoder_buf = (decoder_buf + chunk)[-TAIL_CHARS * 4 :]  # bounded, whatever it prints
        tail.clear()
        tail.append(decoder_buf.decode("utf-8", "replace"))


async def run_check(check: AcceptanceCheck, workdir: Path) -> CheckResult:
    started = time.monotonic()
    out: deque[str] = deque(maxlen=1)
    err: deque[str] = deque(maxlen=1)
    try:
        group = await ProcessGroup.start(check.check, cwd=workdir, env=dict(os.environ))
    except OSError as exc:
        return CheckResult(check.text, list(check.check), False, None, 0.0, "", f"cannot run {check.check[0]}: {exc.strerror or exc}")
    code: int | None = None
    timed_out = False
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(_collect, group.stdout, out)
            tg.start_soon(_collect, group.stderr, err)
            with anyio.move_on_after(check.timeout) as scope:
                code = await group.wait()
            if scope.cancelled_caught:
                timed_out = True
                await group.terminate()
    finally:
        await group.shutdown()
    text = "\n".join(part.rstrip() for part in (out[0] if out else "", err[0] if err else "") if part.strip())
    tail = redact(text[-TAIL_CHARS:])
    error = f"timed out after {check.timeout:g}s" if timed_out else ""
    return CheckResult(check.text, list(check.check), code == 0 and not timed_out, None if timed_out else code,
                       time.monotonic() - started, tail, error)


def _clean_worktree(root: Path, folder: Path, commit: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = Path(folder) / f"check-{os.getpid()}-{time.monotonic_ns()}"
    git(["worktree", "add", "--detach", "--quiet", str(path), commit], root)
    return path


def _remove_worktree(root: Path, path: Path) -> None:
    try:
        git(["worktree", "remove", "--force", str(path)], root)
    except WorktreeError:
        pass
    git(["worktree", "prune"], root)


async def run_checks(
    root: Path, folder: Path, commit: str, checks: list[AcceptanceCheck], publish: Publish
) -> list[CheckResult]:
    """Each check in a fresh worktree of `commit` under `folder` (removed afterwards)."""
    results: list[CheckResult] = []
    for check in checks:
        path = await anyio.to_thread.run_sync(_clean_worktree, root, folder, commit)
        try:
            result = await run_check(check, path)
        finally:
            with anyio.CancelScope(shield=True), anyio.move_on_after(CLEANUP_TIMEOUT):
                await anyio.to_thread.run_sync(_remove_worktree, root, path)
        results.append(result)
        kind = EventType.ACCEPTANCE_VALIDATED if result.passed else EventType.ACCEPTANCE_FAILED
        publish(kind, "runner", {**result.to_dict(), "commit": commit})
    return results
