"""The `oneie` command. Each subcommand lives in `oneie_tui/commands/NAME.py` with
`register(subparsers)` (argparse only, cheap to import) and heavy imports inside its
handler, so `oneie --help` loads neither textual nor anthropic."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

# Order is the order of `oneie --help`.
COMMAND_MODULES = [
    "oneie_tui.commands.run",
    "oneie_tui.commands.specs",
    "oneie_tui.commands.plan",
    "oneie_tui.commands.history",
    "oneie_tui.commands.land",
    "oneie_tui.commands.watch",
    "oneie_tui.commands.serve",
    "oneie_tui.commands.tui",
    "oneie_tui.commands.process",
    "oneie_tui.commands.send",
]


class ArgumentParser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="oneie",
        description="Run a squad of AI agents in parallel from one feature spec.",
        epilog="With no command, opens the dashboard on the most recent spec.",
    )
    parser.add_argument("--version", action="version", version="oneie 0.1.0")
    parser.add_argument(
        "--debug", action="store_true",
        help="debug logging to a file in the log folder (also: ONEIE_LOG_LEVEL=DEBUG)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=ArgumentParser)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from oneie_tui.trust import redact

    redact.install()  # from the first moment: every log record, crash included, is masked
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        try:
            args = parser.parse_args(["tui"])
            handler = args.handler
        except SystemExit:
            parser.print_help()
            return 2
    log_file = None
    if getattr(args, "debug", False) or os.environ.get("ONEIE_LOG_LEVEL"):
        from oneie_tui.logsetup import configure, wanted_level

        level = wanted_level(bool(getattr(args, "debug", False)))
        if level is not None:
            log_file = configure(level)
    try:
        code = handler(args)
    except KeyboardInterrupt:
        sys.stderr.write("oneie: interrupted\n")
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug: one redacted line here, the traceback in the log file
        return _crashed(exc, log_file)
    return int(code or 0)


def _crashed(exc: Exception, log_file: object) -> int:
    """One masked line naming the log that holds the (masked) traceback; never the
    traceback itself (also with --debug: it is in the log, masked)."""
    import logging

    from oneie_tui.logsetup import configure
    from oneie_tui.trust.display import display
    from oneie_tui.trust.redact import redact

    if log_file is None:
        log_file = configure(logging.ERROR)  # a crash is always logged somewhere
    logging.getLogger("oneie.cli").error("internal error", exc_info=exc)
    first = (str(exc).strip().splitlines() or [""])[0][:300]
    where = f"; details in {log_file}" if log_file else "; the log folder cannot be written"
    sys.stderr.write(display(redact(f"oneie: internal error: {type(exc).__name__}: {first}{where}")) + "\n")
    return 1


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
