"""Small helpers shared by the command modules: one-line errors and the store."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from oneie_tui.store.base import Store

EXIT_USAGE = 2


class CommandError(Exception):
    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def die(message: str, code: int = 1) -> NoReturn:
    raise CommandError(message, code)


def report(exc: CommandError) -> int:
    sys.stderr.write(f"oneie: {exc}\n")
    return exc.code


def add_store_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        metavar="PATH",
        help="run store (SQLite); default: $ONEIE_STORE or the platform data folder",
    )


def open_store(args: argparse.Namespace) -> Store:
    from oneie_tui.store.base import StoreError
    from oneie_tui.store.open import open_store as open_target

    try:
        return open_target(getattr(args, "store", None))
    except StoreError as exc:
        die(str(exc), 1)


def open_app(args: argparse.Namespace, factory: Callable[[], Any], store: Store | None = None) -> int:
    """The dashboard app on the screen `factory` makes (history, replay, watch)."""
    try:
        from oneie_tui.ui.app import OneieApp
    except ImportError as exc:  # the dashboard is an optional part of a partial install
        die(f"the dashboard is not available: {exc}", 1)
    app = OneieApp(store_path=getattr(args, "store", None) or None, store=store,
                   initial_screen_factory=factory)
    app.run()
    return int(getattr(app, "return_code", 0) or 0)


def guarded(func: Callable[[argparse.Namespace], int | None]) -> Callable[[argparse.Namespace], int]:
    """Turn the expected failures of a command into one line and an exit code."""

    def wrapper(args: argparse.Namespace) -> int:
        from oneie_tui.spec.loader import SpecError
        from oneie_tui.store.base import StoreError

        try:
            return int(func(args) or 0)
        except CommandError as exc:
            return report(exc)
        except SpecError as exc:
            sys.stderr.write(f"oneie: {exc}\n")
            return EXIT_USAGE
        except StoreError as exc:
            sys.stderr.write(f"oneie: {exc}\n")
            return 1

    wrapper.__name__ = func.__name__
    wrapper.__doc__ = func.__doc__
    return wrapper
