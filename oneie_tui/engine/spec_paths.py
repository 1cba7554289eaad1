"""Every path a spec names, checked whichever backend would read it (`oneie validate`).

A spec is shared: a profile, a `command.cwd` or a worktree folder that leaves the project
(or a profile that is not there) is wrong whatever backend runs today, so a spec that
`--backend claude` would refuse never validates as ok on `sim`. One problem per line,
naming the agent's place.
"""

from __future__ import annotations

from pathlib import Path

from oneie_tui.agents.profiles import ProfileError, load_profile
from oneie_tui.git.worktree import WorktreeError, worktrees_dir
from oneie_tui.spec.model import Spec
from oneie_tui.trust.pathguard import PathEscape, confine


def path_problems(spec: Spec, project: Path) -> list[str]:
    """What is wrong with the paths `spec` names, relative to `project` (empty if none)."""
    problems: list[str] = []
    try:
        worktrees_dir(project, spec.run.worktree_dir)
    except WorktreeError as exc:
        problems.append(f"run.worktree_dir: {exc}")
    for i, agent in enumerate(spec.agents):
        where = f"agents[{i}] ({agent.id})"
        if agent.profile:
            try:
                load_profile(agent.profile, project)
            except ProfileError as exc:
                problems.append(f"{where}: {exc}")
        if agent.command.cwd:
            try:
                confine(agent.command.cwd, project, "command.cwd")
            except PathEscape as exc:
                problems.append(f"{where}: {exc}")
    return problems
