"""`oneie land RUN`: merge the run's agents' branches (dependency order) into
`oneie/<run>/landed` or `--into BRANCH`, report what was left out, run the acceptance
checks on the landed tree. Exit 0: all landed and every check passed; 1: something was
left out or a check failed; 2: bad usage."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from oneie_tui.land.acceptance import CheckResult
    from oneie_tui.land.landing import LandResult
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


def _land(args: argparse.Namespace) -> int:
    import json

    import anyio

    from oneie_tui.commands.common import die, open_store
    from oneie_tui.engine.worktree import WorktreeError, worktrees_dir
    from oneie_tui.events import EventType
    from oneie_tui.land.acceptance import run_checks
    from oneie_tui.land.landing import Lander, LandError, Target, default_into, landing_order
    from oneie_tui.land.runfacts import RunFactsError, StoreRecorder, load_facts

    store = open_store(args)
    try:
        try:
            facts = load_facts(store, args.run)
        except RunFactsError as exc:
            die(str(exc), EXIT_USAGE)
        if facts.run.status == "running":
            die(f"run {facts.run_id} is still running; land it once it has finished", EXIT_USAGE)
        chosen = _choice(facts, args.only)
        if not chosen:
            die(f"run {facts.run_id} has no agent to land: none completed or was accepted (see --only)", EXIT_FAILED)
        if "landed" in facts.isolated and not args.into:
            die("an agent is called 'landed', so oneie/<run>/landed is its branch: name a branch with --into", EXIT_USAGE)
        order = landing_order(facts.spec, chosen)
        record = StoreRecorder(store, facts.run_id)
        target = Target(args.into or default_into(facts.run_id), explicit=bool(args.into))
        lander = Lander(facts.root, facts.run_id, facts.base, target, dry_run=args.dry_run, publish=record)
        try:
            result = lander.land(order)
        except LandError as exc:
            die(str(exc), EXIT_USAGE)
        except WorktreeError as exc:
            die(str(exc), EXIT_FAILED)
        finally:
            lander.close()
        checks: list[CheckResult] = []
        wanted = facts.spec.feature.acceptance_checks()
        if wanted and not args.dry_run:
            try:
                folder = worktrees_dir(facts.root, facts.worktree_dir) / facts.run_id / ".acceptance"
                checks = anyio.run(run_checks, facts.root, folder, result.tip, wanted, record)
            except WorktreeError as exc:
                die(f"acceptance checks could not run: {exc}", EXIT_FAILED)
        failed = [c for c in checks if not c.passed]
        status = "landed" if result.complete and not failed else "partial" if result.landed else "failed"
        summary = {
            **result.to_dict(),
            "status": status,
            "acceptance": [c.to_dict() for c in checks],
            "checks_skipped": bool(wanted) and args.dry_run,
        }
        record(EventType.LAND_FINISHED, "runner", {
            "status": status, "into": result.into, "commit": result.tip, "landed": result.landed,
            "left_out": list(result.left_out), "dry_run": result.dry_run,
            "checks_passed": len(checks) - len(failed), "checks_failed": len(failed),
        })
        if not args.dry_run:  # history shows the last landing beside the run's own summary
            run = facts.run
            store.finish_run(run.id, run.ended or record.events[-1].ts, run.status, {
                **run.summary,
                "land": {k: summary[k] for k in ("into", "commit", "status", "landed", "left_out")}
                | {"acceptance": [{"text": c.text, "passed": c.passed} for c in checks]},
            })
    finally:
        store.close()
    if args.json:
        print(json.dumps(summary, default=str))
    else:
        _print(result, checks, status, wanted_checks=len(wanted))
    return EXIT_OK if status == "landed" else EXIT_FAILED


def _print(result: LandResult, checks: list[CheckResult], status: str, *, wanted_checks: int) -> None:
    from oneie_tui.views.land_view import printable

    w = sys.stdout.write
    made = f"made from base {result.base[:12]}" if result.created else f"at {result.start[:12]}"
    dry = " (dry run: no branch moves)" if result.dry_run else ""
    w(f"landing run {result.run_id} into {printable(result.into)} ({made}){dry}\n")
    for agent_id in result.order:
        if agent_id in result.landed:
            w(f"  ✓ {agent_id} landed\n")
        else:
            why = result.left_out[agent_id]
            paths = ", ".join(why.paths[:5]) + (f" +{len(why.paths) - 5}" if len(why.paths) > 5 else "")
            others = f" (with {', '.join(why.conflicts_with)})" if why.conflicts_with else ""
            w(printable(f"  ✗ {agent_id} left out: {why.reason}" + (f" in {paths}" if paths else "") + others) + "\n")
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
