"""`oneie validate`, `oneie schema`, `oneie new`: working with spec files."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("validate", help="check a spec file; exit 2 with one message if it is bad")
    p.add_argument("spec", nargs="+", help="spec file(s)")
    p.set_defaults(handler=cmd_validate)

    p = sub.add_parser("schema", help="print the spec's JSON Schema (for editors)")
    p.set_defaults(handler=cmd_schema)

    p = sub.add_parser("new", help="write a starter spec NAME.toml")
    p.add_argument("name", help="feature name; the file is its slug + .toml")
    p.add_argument("-o", "--output", help="file to write (default: ./<slug>.toml)")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")
    p.set_defaults(handler=cmd_new)


def cmd_validate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from oneie_tui.engine.spec_paths import path_problems
    from oneie_tui.spec.lints import lint_spec
    from oneie_tui.spec.loader import SpecError, load_spec, locate_field

    code = 0
    for path in args.spec:
        try:
            loaded = load_spec(path)
        except SpecError as exc:
            sys.stderr.write(f"oneie: {exc}\n")
            code = 2
            continue
        # Paths are checked from the folder a run would use (the current one), for every
        # backend: what `--backend claude` would refuse is refused here too.
        problems = path_problems(loaded.spec, Path.cwd())
        if problems:
            for problem in problems:
                sys.stderr.write(f"oneie: {path}: {problem}\n")
            code = 2
            continue
        agents = len(loaded.spec.agents)
        print(f"{path}: ok ({loaded.name!r}, {agents} agent{'s' if agents != 1 else ''})")
        # Lints are warnings: they never change the exit code (the spec runs as it is).
        overlaps = _scope_warnings(loaded.spec, path)
        for lint in lint_spec(loaded.spec):
            if overlaps and lint.place.endswith(".scope"):
                continue  # the scope check below says it with the very files: once is enough
            line = locate_field(loaded.text, lint.place)
            print(f"{path}{f':{line}' if line else ''}: warning: {lint}")
        _warn_limits(path, loaded.spec)
        for warning in overlaps:
            sys.stderr.write(f"oneie: warning: {path}: {warning}\n")
    return code


def _warn_limits(path: str, spec: Any) -> None:
    """A spec that cannot run as parallel as it asks under this shell's limits still runs
    (the excess queues), but the user should know before, not find it slow."""
    from oneie_tui.engine.limits import capacity

    cap = capacity(spec.backend_of(a) for a in spec.agents)
    asked = spec.run.max_parallel
    if cap.limit is None or (asked and asked <= cap.limit):
        return
    sys.stderr.write(
        f"oneie: warning: {path}: cannot run fully in parallel here: {cap.note}; the rest will queue\n"
    )


def _scope_warnings(spec: Any, path: str) -> list[str]:
    """Overlapping scopes of agents that can run at the same time (a conflict foretold).
    The project's files, when the spec sits in a git repository, make the check exact
    for the paths that exist."""
    if not any(a.scope for a in spec.agents):
        return []
    import subprocess
    from pathlib import Path

    from oneie_tui.land.scope import scope_overlaps

    files: list[str] = []
    try:
        done = subprocess.run(
            ["git", "ls-files", "-z", "--full-name"], cwd=Path(path).resolve().parent,
            capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL, check=False,
        )
        if done.returncode == 0:  # paths from the repository's top: the project
            files = [f for f in done.stdout.split("\0") if f][:100_000]
    except (OSError, subprocess.TimeoutExpired):
        files = []
    return [found.text() for found in scope_overlaps(spec, files)]


def cmd_schema(args: argparse.Namespace) -> int:
    import json

    from oneie_tui.spec.model import spec_json_schema

    print(json.dumps(spec_json_schema(), indent=2))
    return 0


def cmd_new(args: argparse.Namespace) -> int:
    import re
    from pathlib import Path

    from oneie_tui.spec.loader import SpecError, parse_spec_text, starter_spec

    slug = re.sub(r"[^a-z0-9]+", "-", args.name.lower()).strip("-") or "feature"
    target = Path(args.output or f"{slug}.toml")
    if target.exists() and not args.force:
        sys.stderr.write(f"oneie: {target} exists; use --force to overwrite\n")
        return 1
    text = starter_spec(args.name)
    try:
        parse_spec_text(text, str(target))
    except SpecError as exc:  # the name itself may be unusable (e.g. too long)
        sys.stderr.write(f"oneie: {exc}\n")
        return 2
    from oneie_tui.atomicfile import atomic_text_file

    try:
        with atomic_text_file(target, mode=0o644) as out:  # whole or not at all; a spec is shared
            out.write(text)
    except OSError as exc:
        sys.stderr.write(f"oneie: cannot write {target}: {exc.strerror or exc}\n")
        return 1
    print(f"wrote {target}; run it with: oneie run {target}")
    return 0
