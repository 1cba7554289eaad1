"""`oneie emit` / `oneie progress` (from inside an agent's processes) and `oneie worktrees`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def register(sub: Any) -> None:
    p = sub.add_parser(
        "emit",
        help="fire a coordination event from inside a running agent (e.g. oneie emit schema_ready)",
        description="Fire a coordination event for the agent this process belongs to. Works in "
        "any process started by a command or claude-code agent of a live run.",
    )
    p.add_argument("action", help="event name, {domain}_{action} snake_case, e.g. schema_ready")
    p.add_argument("--json", dest="meta", metavar="META", help='metadata as a JSON object, e.g. \'{"tables": 5}\'')
    p.set_defaults(handler=cmd_emit)

    p = sub.add_parser(
        "progress",
        help="report progress (0-100) from inside a running agent",
        description="Report the progress of the agent this process belongs to.",
    )
    p.add_argument("percent", help="0 to 100")
    p.add_argument("note", nargs="*", help="a short note shown beside the bar")
    p.set_defaults(handler=cmd_progress)

    p = sub.add_parser(
        "worktrees",
        help="list the agents' git worktrees of this project (--prune removes finished ones)",
    )
    p.add_argument(
        "--prune",
        action="store_true",
        help="remove worktrees of runs that are no longer live (uncommitted changes go too; "
        "branches with commits of their own are kept)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="with --prune: also remove worktrees whose run is not in the store",
    )
    from oneie_tui.commands.common import add_store_arg

    add_store_arg(p)
    p.set_defaults(handler=cmd_worktrees)


def _fail(message: str, code: int) -> int:
    sys.stderr.write(f"oneie: {message}\n")
    return code


def _send(request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    from oneie_tui.engine.control_socket import ControlRefused, ControlUnavailable, send

    try:
        return EXIT_OK, send(request)
    except ControlUnavailable as exc:
        return _fail(str(exc), EXIT_USAGE), {}
    except ControlRefused as exc:
        return _fail(f"the run refused: {exc}", EXIT_FAILED), {}


def cmd_emit(args: argparse.Namespace) -> int:
    import json

    from oneie_tui.agents.lineproto import check_action

    reason = check_action(args.action)
    if reason:
        return _fail(reason, EXIT_USAGE)
    metadata: dict[str, Any] = {}
    if args.meta is not None:
        from oneie_tui.trust import json_bounds

        try:
            value = json_bounds.loads(args.meta)
        except json.JSONDecodeError as exc:
            return _fail(f"--json is not valid JSON: {exc.msg} (at character {exc.pos})", EXIT_USAGE)
        except ValueError as exc:  # nested too deep, NaN
            return _fail(f"--json: {exc}", EXIT_USAGE)
        if not isinstance(value, dict):
            return _fail("--json must be a JSON object, e.g. '{\"tables\": 5}'", EXIT_USAGE)
        metadata = value
    code, answer = _send({"op": "emit", "action": args.action, "metadata": metadata})
    if code == EXIT_OK:
        print(f"emitted {args.action} (event {answer.get('seq', '?')})")
    return code


def cmd_progress(args: argparse.Namespace) -> int:
    from oneie_tui.agents.lineproto import parse_percent

    try:
        percent = parse_percent(args.percent)
    except ValueError as exc:
        return _fail(str(exc), EXIT_USAGE)
    code, _ = _send({"op": "progress", "percent": percent, "note": " ".join(args.note)})
    return code


def cmd_worktrees(args: argparse.Namespace) -> int:
    from oneie_tui.commands.common import guarded

    return int(guarded(_worktrees)(args))  # type: ignore[no-untyped-call]


def _worktrees(args: argparse.Namespace) -> int:
    from pathlib import Path

    from rich.console import Console
    from rich.table import Table

    from oneie_tui.commands.common import die, open_store
    from oneie_tui.git.worktree import (
        WorktreeError,
        diff_stat,
        list_worktrees,
        project_root,
        remove,
    )
    from oneie_tui.store.base import StoreError

    try:
        root = project_root(Path.cwd())
        items = list_worktrees(root)
    except WorktreeError as exc:
        die(str(exc), EXIT_USAGE)
    store = open_store(args)
    try:
        status: dict[str, str] = {}
        for item in items:
            if item.run_id not in status:
                try:
                    status[item.run_id] = store.get_run(item.run_id).status
                except (StoreError, KeyError, LookupError):
                    status[item.run_id] = "unknown"
    finally:
        store.close()
    console = Console(highlight=False)
    if not items:
        console.print(f"no oneie worktrees in {root}")
        return EXIT_OK
    if args.prune:
        removed = kept = 0
        for item in items:
            run_status = status[item.run_id]
            if run_status == "running" or (run_status == "unknown" and not args.force):
                why = "run is live" if run_status == "running" else "run not in the store; --force removes it"
                console.print(f"kept    {item.branch}  ({why})")
                kept += 1
                continue
            try:
                branch_kept = remove(root, item)
            except WorktreeError as exc:
                console.print(f"[red]failed[/]  {item.branch}: {exc}")
                kept += 1
                continue
            note = "; branch kept: it has commits" if branch_kept else ""
            console.print(f"removed {item.path}{note}")
            removed += 1
        console.print(f"{removed} removed, {kept} kept")
        return EXIT_OK
    table = Table(title=f"oneie worktrees of {root}", title_justify="left")
    for column in ("run", "agent", "run status", "changes", "path"):
        table.add_column(column)
    for item in items:
        changes = "—"
        if item.path.exists() and item.base:
            try:
                changes = diff_stat(item.path, item.base).text
            except WorktreeError:
                changes = "?"
        elif not item.path.exists():
            changes = "folder missing"
        table.add_row(item.run_id, item.agent_id, status[item.run_id], changes, str(item.path))
    console.print(table)
    return EXIT_OK
