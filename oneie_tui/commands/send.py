"""`oneie send RUN AGENT "message"`: say something to an agent of a live run, from any
terminal of the same user, through the run's control socket (its path is in the run's
`run_started`). The runner answers as the dashboard's message input does: delivered at
the agent's next boundary, a follow-up attempt for a finished agent, or why not."""

from __future__ import annotations

import argparse
from typing import Any

from oneie_tui.commands.common import EXIT_USAGE, add_store_arg, die, guarded, open_store


def register(sub: Any) -> None:
    p = sub.add_parser(
        "send",
        help="say something to an agent of a live run (a follow-up for a finished agent)",
        description="Send a message to one agent of a live run. A working agent gets it at "
        "its next boundary; a finished one continues with it in a new attempt.",
    )
    p.add_argument("run", help="run id, unique prefix, or 'last'")
    p.add_argument("agent", help="the agent's id")
    p.add_argument("message", help="what to say (quote it); at most 8000 characters")
    add_store_arg(p)
    p.set_defaults(handler=guarded(cmd_send))


def control_path_of(args: argparse.Namespace) -> tuple[str, str, str]:
    """(run id, run status, control socket path) of the run named on the command line."""
    from oneie_tui.events import EventType
    from oneie_tui.store.base import StoreError

    store = open_store(args)
    try:
        try:
            row = store.get_run(args.run)
        except StoreError as exc:
            die(str(exc), EXIT_USAGE)
        started = store.events_of_types(row.id, [EventType.RUN_STARTED], up_to_seq=2**62, limit=2**31)
    finally:
        store.close()
    path = next((str(e.metadata["control"]) for e in reversed(started)
                 if isinstance(e.metadata.get("control"), str)), "")
    if not path:
        die(f"run {row.id} is {row.status} and has no control channel recorded; no message can reach it", EXIT_USAGE)
    return row.id, row.status, path


def cmd_send(args: argparse.Namespace) -> int:
    from oneie_tui.engine.control_socket import ControlUnavailable, exchange
    from oneie_tui.trust.display import display

    run_id, status, path = control_path_of(args)
    try:
        answer = exchange(path, {"op": "send", "agent": args.agent, "text": args.message}, run_id)
    except ControlUnavailable:
        die(f"run {run_id} is {status} and no live oneie process serves it: nothing can take the message", EXIT_USAGE)
    if not answer.get("ok"):
        code = EXIT_USAGE if answer.get("unknown") else 1
        die(display(str(answer.get("error", "refused"))), code)
    how = "as a follow-up attempt" if answer.get("delivery") == "followup" else "at its next boundary"
    print(f"sent to {display(args.agent)} in run {run_id} ({how})")
    return 0
