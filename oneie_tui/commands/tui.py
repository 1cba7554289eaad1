"""`oneie tui [SPEC]`: the dashboard. `oneie` with no command lands here too.

With no SPEC it opens the spec opened last, or a picker of the example specs and the
current folder's `*.toml`. A missing or unreadable SPEC, or an invalid one with `--run`,
is one message and exit 2; an invalid SPEC without `--run` opens in the editor with its
error marked, so it can be fixed there."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    from oneie_tui.commands.common import add_store_arg
    from oneie_tui.commands.run_options import add_run_options

    p = sub.add_parser("tui", help="open the dashboard (the default command)")
    p.add_argument("spec", nargs="?", help="spec file (TOML); default: the last one opened, or a picker")
    p.add_argument("--run", action="store_true", help="start a run as soon as the dashboard opens")
    p.add_argument("--theme", metavar="NAME", help="theme: dark, light, high-contrast, or a user theme")
    add_run_options(p)
    add_store_arg(p)
    p.set_defaults(handler=cmd_tui)


def cmd_tui(args: argparse.Namespace) -> int:
    from oneie_tui.commands.common import guarded

    return int(guarded(_tui)(args))


def _tui(args: argparse.Namespace) -> int:
    return open_dashboard(args, run_now=bool(args.run), theme=args.theme)


def open_dashboard(args: argparse.Namespace, *, run_now: bool, theme: str | None) -> int:
    """The dashboard on `args.spec` (else the last spec opened), with the run options of
    `args` (see `add_run_options`): `oneie tui`, and `oneie run` on a terminal."""
    from pathlib import Path

    from oneie_tui.commands.common import die
    from oneie_tui.commands.run_options import options_from_args
    from oneie_tui.config import last_spec
    from oneie_tui.spec.loader import SpecError, load_spec

    options = options_from_args(args)
    spec_path: Path | None = None
    if args.spec:
        spec_path = Path(args.spec)
        try:
            load_spec(spec_path)
        except SpecError as exc:
            readable = spec_path.is_file()
            if run_now or not readable:
                raise
            del exc  # opens in the editor, which shows the error on its line
    else:
        spec_path = last_spec()
        if run_now and spec_path is None:
            die("--run needs a SPEC (no spec was opened before)", 2)

    if theme:
        _check_theme(theme)

    from oneie_tui.ui.app import OneieApp

    app = OneieApp(
        spec_path,
        store_path=args.store or None,  # a path or a URL: open_store tells them apart
        run_on_start=bool(run_now and spec_path is not None),
        options=options,
        theme=theme,
    )
    code = app.run()
    if app.log_file is not None and app.return_code not in (None, 0):
        import sys

        sys.stderr.write(f"oneie: the dashboard ended with errors; see {app.log_file}\n")
    return int(code or 0)


def _check_theme(name: str) -> None:
    """An unknown `--theme` is bad usage: say which themes exist, before the screen opens.
    (A theme named in the config file only warns in the app, since the user did not just type it.)"""
    from textual.theme import BUILTIN_THEMES

    from oneie_tui.commands.common import die
    from oneie_tui.themes import load_themes

    themes, _ = load_themes()
    ours = [t.name for t in themes]
    if name not in ours and name not in BUILTIN_THEMES:
        die(f"--theme: unknown theme {name!r}; known: {', '.join(ours)} (or a Textual theme)", 2)
