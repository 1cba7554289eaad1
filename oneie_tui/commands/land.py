"""`oneie land RUN`: merge the run's agents' branches (dependency order) into
`oneie/<run>/landed` or `--into BRANCH`, report what was left out, run the acceptance
checks on the landed tree. Exit 0: all landed and every check passed; 1: something was
left out or a check failed; 2: bad usage."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from oneie_tui.land.flow import LandOutcome
    from oneie_tui.land.runfacts import RunFacts

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def register(sub: Any) -> None:
    p = sub.add_parser(
        "land",
        help="merge a run's agent branches into oneie/<run>/landed (or --into BRANCH) and run the acceptance checks",
        description="Merge the accepted agents' branches of a finished run (by default every agent that "
        "completed) in dependency order into a new branch oneie/<run>/landed made from the run's base "
        "commit, or into --into BRANCH. A branch that does not merge cleanly is left out and reported. "
        "Your checked-out branch and working tree are never touched unless you name that branch with "
        "--into. Exit 0 when everything landed and every acceptance check passed, 1 otherwise, 2 for bad usage.",
    )
    p.add_argument("run", help="run id, unique prefix, or 'last'")
    p.add_argument("--into", metavar="BRANCH", help="update this branch instead of oneie/<run>/landed")
    p.add_argument("--only", metavar="A,B", help="land only these agents (comma-separated ids)")
    p.add_argument(
        "--resolve-with", metavar="AGENT_ID",
        help="hand a branch that conflicts to this agent of the spec (it resolves the merge in a "
        "worktree of the landed branch) instead of leaving it out; default: [land] resolve_with",
    )
    p.add_argument("--dry-run", action="store_true", help="work out the landing without moving any branch or running checks")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    from oneie_tui.commands.common import add_store_arg

    add_store_arg(p)
    p.set_defaults(handler=cmd_land)


def cmd_land(args: argparse.Namespace) -> int:
    from oneie_tui.commands.common import guarded

    return int(guarded(_land)(args))


def _choice(facts: RunFacts, only: str | None) -> list[str]:
    from oneie_tui.commands.common import die

    if only is None:
        return facts.default_choice()
    wanted = [a.strip() for a in only.split(",") if a.strip()]
    unknown = [a for a in wanted if a not in facts.isolated]
    if not wanted or unknown:
        die(
            f"--only: {', '.join(unknown) or 'no agent given'} is not an agent of run {facts.run_id} "
            f"with a worktree (those are: {', '.join(facts.isolated)})",
            EXIT_USAGE,
        )
    return wanted


def _resolver(facts: RunFacts, resolver: str, record: Any) -> Any:
    """The call that runs the resolver agent (its backend checked now): exit 2 if it is not
    an agent of the run's spec or its backend cannot start."""
    from oneie_tui.agents.base import BackendOptions
    from oneie_tui.commands.common import die
    from oneie_tui.engine.resolver import agent_runner
    from oneie_tui.engine.session import SetupError

    if resolver not in {a.id for a in facts.spec.agents}:
        die(f"--resolve-with: {resolver!r} is not an agent of run {facts.run_id} "
            f"(its agents: {', '.join(a.id for a in facts.spec.agents)})", EXIT_USAGE)
    options = BackendOptions(project_dir=str(facts.root), worktree_dir=facts.worktree_dir)
    try:
        return agent_runner(facts.spec, resolver, facts.run_id, record, options)
    except SetupError as exc:
        die(f"--resolve-with {resolver}: {exc}", EXIT_USAGE)


def _land(args: argparse.Namespace) -> int:
    import json

    import anyio

    from oneie_tui.commands.common import die, open_store
    from oneie_tui.git.worktree import WorktreeError
    from oneie_tui.land.flow import land_run
    from oneie_tui.land.landing import LandError
    from oneie_tui.land.runfacts import RunFactsError, StoreRecorder, load_facts
    from oneie_tui.store.base import StoreError

    store = open_store(args)
    try:
        try:
            facts = load_facts(store, args.run)
        except (RunFactsError, StoreError) as exc:  # no such run is a usage error here
            die(str(exc), EXIT_USAGE)
        if facts.run.status == "running":
            die(f"run {facts.run_id} is still running; land it once it has finished", EXIT_USAGE)
        chosen = _choice(facts, args.only)
        if not chosen:
            die(f"run {facts.run_id} has no agent to land: none completed or was accepted (see --only)", EXIT_FAILED)
        if "landed" in facts.isolated and not args.into:
            die("an agent is called 'landed', so oneie/<run>/landed is its branch: name a branch with --into", EXIT_USAGE)
        record = StoreRecorder(store, facts.run_id)
        resolver = args.resolve_with or facts.spec.land.resolve_with
        run_agent = _resolver(facts, resolver, record) if resolver else None
        try:
            outcome = anyio.run(lambda: land_run(
                facts, record, chosen, into=args.into, dry_run=args.dry_run, resolver=resolver, run_agent=run_agent,
            ))
        except LandError as exc:
            die(str(exc), EXIT_USAGE)
        except WorktreeError as exc:
            die(str(exc), EXIT_FAILED)
    finally:
        store.close()
    if args.json:
        print(json.dumps(outcome.to_dict(), default=str))
    else:
        _print(outcome)
    return EXIT_OK if outcome.status == "landed" else EXIT_FAILED


def _print(outcome: LandOutcome) -> None:
    from oneie_tui.views.land_view import printable

    result, checks, status, wanted_checks = outcome.result, outcome.checks, outcome.status, outcome.checks_wanted
    w = sys.stdout.write
    made = f"made from base {result.base[:12]}" if result.created else f"at {result.start[:12]}"
    dry = " (dry run: no branch moves)" if result.dry_run else ""
    w(f"landing run {result.run_id} into {printable(result.into)} ({made}){dry}\n")
    for agent_id in result.order:
        if agent_id in result.resolved:
            w(printable(f"  ✓ {agent_id} landed: conflicts resolved by {result.resolved[agent_id]}") + "\n")
        elif agent_id in result.landed:
            w(f"  ✓ {agent_id} landed\n")
        else:
            why = result.left_out[agent_id]
            paths = ", ".join(why.paths[:5]) + (f" +{len(why.paths) - 5}" if len(why.paths) > 5 else "")
            others = f" (with {', '.join(why.conflicts_with)})" if why.conflicts_with else ""
            w(printable(f"  ✗ {agent_id} left out: {why.reason}" + (f" in {paths}" if paths else "") + others) + "\n")
            if why.resolver:
                w(printable(f"      resolver {why.resolver}: {why.resolver_error}") + "\n")
                for line in why.resolver_output.splitlines()[-5:]:
                    w(printable(f"      | {line}") + "\n")
    if checks:
        w("acceptance checks:\n")
        for c in checks:
            mark = "✓" if c.passed else "✗"
            code = "" if c.passed else f" (exit {c.exit_code})" if c.exit_code is not None else f" ({c.error})"
            w(printable(f"  {mark} {c.text}{code} · {c.duration_s:.1f}s") + "\n")
            if not c.passed and c.output_tail:
                for line in c.output_tail.splitlines()[-5:]:
                    w(printable(f"      {line}") + "\n")
    elif wanted_checks and result.dry_run:
        w(f"acceptance checks: {wanted_checks} not run (dry run)\n")
    w(f"{status}: {len(result.landed)} of {len(result.order)} agents into {printable(result.into)}"
      + (f" at {result.tip[:12]}" if result.tip else "") + "\n")
