"""Agent scopes: `scope = ["src/api/**", ...]`, gitignore-style globs relative to the
project (pathspec does the matching, the same rules as a .gitignore file).

Two checks: at run time, which changed paths fall outside an agent's scope; before launch
(`oneie validate`), which agents that can run at the same time have overlapping scopes.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import pathspec

from oneie_tui.spec.model import Spec

WILDCARDS = frozenset("*?[")


@lru_cache(maxsize=256)
def _compiled(globs: tuple[str, ...]) -> pathspec.PathSpec[Any]:
    return pathspec.PathSpec.from_lines("gitignore", globs)


def in_scope(globs: Iterable[str], path: str) -> bool:
    return _compiled(tuple(globs)).match_file(path)


def outside(globs: Iterable[str], paths: Iterable[str]) -> list[str]:
    """The paths no glob of the scope covers (an empty scope covers everything)."""
    key = tuple(globs)
    if not key:
        return []
    spec = _compiled(key)
    return sorted(p for p in paths if not spec.match_file(p))


def concurrent_pairs(spec: Spec) -> list[tuple[str, str]]:
    """Pairs of agents that may run at the same time: neither waits, directly or through
    others, for an event the other emits."""
    emitters = spec.emitters()
    needs: dict[str, set[str]] = {}
    for agent in spec.agents:
        needs[agent.id] = {e for name in (*agent.after, *agent.after_any) for e in emitters.get(name, [])}
    before: dict[str, set[str]] = {}

    def ancestors(agent_id: str, seen: frozenset[str] = frozenset()) -> set[str]:
        if agent_id in before:
            return before[agent_id]
        found: set[str] = set()
        for dep in needs[agent_id]:
            if dep not in seen:
                found |= {dep, *ancestors(dep, seen | {agent_id})}
        before[agent_id] = found
        return found

    ids = [a.id for a in spec.agents]
    return [
        (a, b)
        for i, a in enumerate(ids)
        for b in ids[i + 1 :]
        if a not in ancestors(b) and b not in ancestors(a)
    ]


def _literal_prefix(glob: str) -> list[str]:
    parts = [p for p in glob.strip("/").split("/") if p]
    out: list[str] = []
    for part in parts:
        if WILDCARDS & set(part):
            break
        out.append(part)
    return out


def globs_overlap(a: str, b: str) -> bool:
    """Whether some path may match both globs. Exact when one glob is plain text (it is
    matched against the other); otherwise the globs overlap when their literal folders
    nest and the wider one reaches into the narrower's folder (`**`, or no folder at all)."""
    if a == b:
        return True
    pa, pb = _literal_prefix(a), _literal_prefix(b)
    plain_a = len(pa) == len([p for p in a.strip("/").split("/") if p])
    plain_b = len(pb) == len([p for p in b.strip("/").split("/") if p])
    if plain_a and plain_b:
        return in_scope([a], b.strip("/")) or in_scope([b], a.strip("/"))
    if plain_a:
        return in_scope([b], a.strip("/")) or in_scope([b], a.strip("/") + "/x")
    if plain_b:
        return in_scope([a], b.strip("/")) or in_scope([a], b.strip("/") + "/x")
    for one, other in ((a, b), (b, a)):
        if "/" not in one.strip("/"):  # no slash (`*.py`): a name at any depth, as in .gitignore
            last = other.strip("/").split("/")[-1]
            return "**" in last or fnmatch.fnmatchcase(last, one) or fnmatch.fnmatchcase(one, last)
    short, long_, wide = (pa, pb, a) if len(pa) <= len(pb) else (pb, pa, b)
    if long_[: len(short)] != short:
        return False
    rest = wide.strip("/").split("/")[len(short) :]
    return len(short) == len(long_) or any("**" in part for part in rest)


@dataclass(frozen=True)
class ScopeOverlap:
    agents: tuple[str, str]
    globs: tuple[str, str]
    paths: tuple[str, ...]  # project files both scopes cover (when the files are known)

    def text(self) -> str:
        a, b = self.agents
        found = f"; both cover {', '.join(self.paths[:3])}" if self.paths else ""
        return (
            f"agents {a!r} and {b!r} can run at the same time and their scopes overlap "
            f"({self.globs[0]!r} and {self.globs[1]!r}){found}"
        )


def scope_overlaps(spec: Spec, files: Iterable[str] = ()) -> list[ScopeOverlap]:
    """Overlapping scopes of agents that can run at the same time. `files`: the project's
    files (`git ls-files`), so an overlap through real files is named and found even
    when the globs alone do not show it (`*.py` against `src/**`)."""
    known = list(files)
    scoped = {a.id: a.scope for a in spec.agents if a.scope}
    found: list[ScopeOverlap] = []
    for a, b in concurrent_pairs(spec):
        if a not in scoped or b not in scoped:
            continue
        both = tuple(f for f in known if in_scope(scoped[a], f) and in_scope(scoped[b], f))
        pair = next(
            ((ga, gb) for ga in scoped[a] for gb in scoped[b] if globs_overlap(ga, gb)), None
        )
        if pair is None and both:
            pair = (
                next(g for g in scoped[a] if in_scope([g], both[0])),
                next(g for g in scoped[b] if in_scope([g], both[0])),
            )
        if pair is not None:
            found.append(ScopeOverlap((a, b), pair, both[:20]))
    return found
