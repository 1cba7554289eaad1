"""Lints: the reference's "common mistakes to avoid", found in a valid spec.

Each lint is a warning, never an error: the spec still runs. Each has an id (for
`[lint] ignore = [...]`), a field path (`agents[2].task`) and one line citing the rule.
The heuristics are kept simple enough to explain in a sentence each and stay silent
when unsure; docs/spec-reference.md gives the reference's reasoning.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import get_args

from oneie_tui.spec.model import AgentSpec, LintId, Spec
from oneie_tui.spec.options.claude_code import can_change_files, permission_mode_of

LINT_IDS: tuple[str, ...] = get_args(LintId)

# Backends whose agents read the shared context. A command runs what its argv says.
_READS_CONTEXT = {"sim", "claude", "claude-code"}
# Backends whose agents can wait for events themselves, mid-task (the claude backend's
# wait_for_events tool), so an agent without `after` may still be coordinated by events.
_WAITS_ITSELF = {"claude"}
# The last word of an event that announces another agent's work is ready to build on.
_READY_WORDS = {
    "ready", "complete", "completed", "done", "applied", "published", "defined",
    "passing", "passed", "generated", "indexed", "finished",
}
# What one agent builds and another builds against (the reference's schema events:
# schema_ready, migrations_applied, types_published). Role names are left out on purpose:
# "Stripe integration" in a backend task does not mean it builds on integration_ready.
_ARTIFACTS = {"schema", "types", "migrations", "api"}
# Words that stand in for the work instead of naming it ("Build something").
_STAND_INS = {"something", "stuff", "anything", "whatever", "etc", "tbd", "todo", "misc", "somehow"}
MIN_TASK_WORDS = 3
# The reference's resource advice, by the feature's size in ontology things: (most
# things, agents at once advised, what the reference calls it). 5+ things: a massive
# system, "6+ agents (full squad)", no upper bound.
_ADVICE = ((2, 3, "a simple feature (2-3 agents)"), (4, 5, "a complex feature (4-5 agents)"))
_WORD = re.compile(r"[A-Za-z0-9]+")
_SEQUENCE = re.compile(r"\b(after|once|then|when)\b([^.;:!?]*)", re.IGNORECASE)
_WHEN_DONE = re.compile(r"\b(done|ready|finished|complete[ds]?|in place|there)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Lint:
    id: str
    place: str  # a field path such as agents[2].task
    message: str

    def __str__(self) -> str:
        return f"{self.place}: {self.message} [{self.id}]"


def _words(text: str) -> set[str]:
    return {w.lower() for w in _WORD.findall(text)}


def _stem(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") else word


def _names(agent: AgentSpec) -> set[str]:
    """How a task may name an agent: its id, the id's last part, its role."""
    out = {agent.id.lower(), agent.id.lower().rsplit("-", 1)[-1]}
    if agent.role:
        out.add(agent.role.lower())
    return {n for n in out if len(n) >= 3}  # "a" of design-option-a names nothing


def _subject(event: str) -> str | None:
    """`schema_ready` -> `schema`: what a readiness event announces; None for others."""
    head, _, last = event.rpartition("_")
    return head if head and last in _READY_WORDS else None


@lru_cache(maxsize=8192)
def _tokens(text: str) -> str:
    """Text as its lowercase words between spaces (`" course ui against the schema "`), so
    naming a word or phrase is a substring test: cheap for a squad of a thousand."""
    return " " + " ".join(w.lower() for w in _WORD.findall(text)) + " "


def _mentions(text: str, name: str) -> bool:
    """Whether `text` names `name` (a word, an id like agent-backend or an event like
    schema_ready) as whole words."""
    phrase = _tokens(name)
    return phrase != "  " and phrase in _tokens(text)


def _waits(agent: AgentSpec) -> list[str]:
    return [*agent.after, *agent.after_any]


def missing_context(spec: Spec) -> Iterator[Lint]:
    readers = [a for a in spec.agents if spec.backend_of(a) in _READS_CONTEXT]
    if len(readers) < 2:
        return
    f = spec.feature
    o = f.ontology
    missing = [
        name
        for name, empty in (
            ("description", not f.description.strip()),
            ("acceptance", not f.acceptance),
            ("ontology", not (o.things or o.connections or o.events)),
        )
        if empty
    ]
    if missing:
        yield Lint(
            "missing-context",
            f"feature.{missing[0]}",
            f"{len(readers)} agents share this spec but it has no {', no '.join(missing)}: "
            "give every agent the same feature, ontology and acceptance criteria "
            "(reference: missing shared context)",
        )


def vague_tasks(spec: Spec) -> Iterator[Lint]:
    o = spec.feature.ontology
    vocabulary = {
        _stem(w)
        for text in [*o.things, *o.connections, *o.events, spec.feature.name]
        for w in _words(text.replace("_", " "))
    }
    for i, agent in enumerate(spec.agents):
        if spec.backend_of(agent) not in _READS_CONTEXT:
            continue
        words = _WORD.findall(agent.task)
        if len(words) < MIN_TASK_WORDS:
            shown = f"{agent.task.strip()!r} is {len(words)} word{'s' if len(words) != 1 else ''}" if words else "is empty"
            yield Lint(
                "vague-task",
                f"agents[{i}].task",
                f"the task {shown}: say what to build, naming the feature's things "
                "(reference: agents don't know what \"something\" is)",
            )
            continue
        lowered = {w.lower() for w in words}
        stand_ins = sorted(lowered & _STAND_INS)
        if stand_ins and not ({_stem(w) for w in lowered} & vocabulary):
            yield Lint(
                "vague-task",
                f"agents[{i}].task",
                f"the task says {stand_ins[0]!r} and names nothing of the ontology: say what "
                "to build (reference: agents don't know what \"something\" is)",
            )


def coupling_without_events(spec: Spec) -> Iterator[Lint]:
    # The readiness events about an artifact, found once: usually a handful per squad.
    announced = [
        (emitter, event, subject)
        for emitter in spec.agents
        for event in emitter.emits
        if (subject := _subject(event)) in _ARTIFACTS
    ]
    if not announced:
        return
    for i, agent in enumerate(spec.agents):
        if _waits(agent) or spec.backend_of(agent) in _WAITS_ITSELF:
            continue
        own = {_subject(e) for e in agent.emits}
        for other, event, subject in announced:
            if other is agent or (agent.race and other.race == agent.race) or subject in own:
                continue  # itself, a race mate, or it produces that thing too
            if (set(other.after) | set(other.after_any)) & set(agent.emits):
                continue  # the other one waits on this one: no race condition here
            if _mentions(agent.task, event) or _mentions(agent.task, subject):
                shown = subject.replace("_", " ")
                yield Lint(
                    "coupling-without-events",
                    f"agents[{i}]",
                    f"{agent.id} works against the {shown} that {other.id} announces with "
                    f"{event}, but waits on nothing: add after = [\"{event}\"] "
                    "(reference: tight coupling without events)",
                )
                break


def no_failure_handling(spec: Spec) -> Iterator[Lint]:
    if spec.run.on_failure != "continue":
        return
    emitters = {a.id: a for a in spec.agents}
    by_event = spec.emitters()
    for i, agent in enumerate(spec.agents):
        for event in _waits(agent):
            sources = [emitters[e] for e in by_event.get(event, []) if not emitters[e].race]
            if sources:
                yield Lint(
                    "no-failure-handling",
                    f"agents[{i}].{'after' if event in agent.after else 'after_any'}",
                    f"{agent.id} builds on {event} from {sources[0].id}, but with on_failure = "
                    f"\"continue\" a failed {sources[0].id} leaves it working on broken output: "
                    "use \"cancel\" (reference: no failure handling)",
                )
                break


def over_parallel(spec: Spec) -> Iterator[Lint]:
    if spec.run.max_parallel == 1:
        return
    if spec.run.max_parallel == 0:
        size = len(spec.feature.ontology.things)
        at_once = [i for i, a in enumerate(spec.agents) if not _waits(a)]
        for most, advised, label in _ADVICE:
            if size <= most:
                if len(at_once) > advised:
                    yield Lint(
                        "over-parallel",
                        f"agents[{at_once[advised]}]",
                        f"{len(at_once)} agents start at once on {label}, with no max_parallel: "
                        f"set [run] max_parallel = {advised} or wait on events "
                        "(reference: don't over-parallelize)",
                    )
                break
    yield from _scope_overlaps(spec)


def _scope_of(agent: AgentSpec) -> list[str]:
    # `scope` is a field of the agent model only once the scope issue lands; until then
    # every agent has none and this part of the lint stays silent.
    value = getattr(agent, "scope", None)
    return [str(v) for v in value] if isinstance(value, list | tuple) else []


def scopes_overlap(a: Iterable[str], b: Iterable[str]) -> str | None:
    """A path both scopes may touch (as the shorter of two overlapping patterns), else None.
    Patterns overlap when the literal part of one (up to its first wildcard) is a folder
    of, or the same path as, the other's."""
    def literal(p: str) -> list[str]:
        head = re.split(r"[*?\[]", p.strip().lstrip("./"), maxsplit=1)[0]
        return [seg for seg in head.split("/") if seg]

    for x in a:
        for y in b:
            lx, ly = literal(x), literal(y)
            n = min(len(lx), len(ly))
            if lx[:n] == ly[:n]:
                return x if len(lx) <= len(ly) else y
    return None


def _upstream(spec: Spec) -> dict[str, set[str]]:
    """Every agent each agent waits on, directly or through others."""
    by_event = spec.emitters()
    direct = {a.id: {e for n in _waits(a) for e in by_event.get(n, [])} for a in spec.agents}
    out: dict[str, set[str]] = {}
    for agent_id in direct:
        seen: set[str] = set()
        todo = list(direct[agent_id])
        while todo:
            nxt = todo.pop()
            if nxt not in seen:
                seen.add(nxt)
                todo += direct.get(nxt, set())
        out[agent_id] = seen
    return out


def _scope_overlaps(spec: Spec) -> Iterator[Lint]:
    scoped = [(i, a, _scope_of(a)) for i, a in enumerate(spec.agents)]
    scoped = [s for s in scoped if s[2]]
    if len(scoped) < 2:
        return
    upstream = _upstream(spec)
    for n, (i, a, sa) in enumerate(scoped):
        for j, b, sb in scoped[n + 1 :]:
            if a.id in upstream[b.id] or b.id in upstream[a.id]:
                continue  # one waits for the other: never at once
            shared = scopes_overlap(sa, sb)
            if shared is not None:
                yield Lint(
                    "over-parallel",
                    f"agents[{j}].scope",
                    f"{b.id} and {a.id} (agents[{i}]) can run at once and both touch {shared}: "
                    "make one wait for the other (reference: over-parallelizing dependent tasks)",
                )


MAX_NAME_WORDS = 6


def sequential_in_parallel(spec: Spec) -> Iterator[Lint]:
    # Every way a task may name an agent (id, role, its events and their subjects), as
    # word phrases, once; a clause is then looked up by its runs of words.
    named: dict[str, list[int]] = {}
    for j, other in enumerate(spec.agents):
        for name in _names(other) | set(other.emits) | {x for e in other.emits if (x := _subject(e))}:
            phrase = _tokens(name).strip()
            if phrase and phrase.count(" ") < MAX_NAME_WORDS:
                named.setdefault(phrase, []).append(j)
    for i, agent in enumerate(spec.agents):
        if _waits(agent) or spec.backend_of(agent) in _WAITS_ITSELF:
            continue
        for m in _SEQUENCE.finditer(agent.task):
            word, clause = m.group(1).lower(), m.group(2)
            if word == "when" and not _WHEN_DONE.search(clause):
                continue
            hit = _named_agent(named, i, clause)
            if hit is not None:
                other_id = spec.agents[hit].id
                yield Lint(
                    "sequential-in-parallel",
                    f"agents[{i}].task",
                    f"the task says {m.group(0).strip()[:40]!r} but {agent.id} waits on nothing, "
                    f"so it runs alongside {other_id}: add after = [...] on an event "
                    f"{other_id} emits (reference: sequential work run in parallel)",
                )
                break


def _named_agent(named: dict[str, list[int]], me: int, clause: str) -> int | None:
    """The first other agent (by index) that a run of the clause's words names."""
    words = _tokens(clause).split()
    hits = [
        j
        for start in range(len(words))
        for n in range(1, MAX_NAME_WORDS + 1)
        for j in named.get(" ".join(words[start : start + n]), ())
        if j != me
    ]
    return min(hits) if hits else None


def no_file_tools(spec: Spec) -> Iterator[Lint]:
    """A claude-code agent whose permissions let no tool change a file: the headless CLI
    refuses every Write, Edit and Bash call, and the agent "completes" having done
    nothing (issue 16)."""
    for i, agent in enumerate(spec.agents):
        if spec.backend_of(agent) != "claude-code":
            continue
        isolated = (agent.isolation or spec.run.isolation) == "worktree"
        opts = agent.claude_code
        if can_change_files(opts, isolated):
            continue
        mode = permission_mode_of(opts, isolated) or "default"
        place = "permission_mode" if opts.permission_mode else "allowed_tools"
        yield Lint(
            "no-file-tools",
            f"agents[{i}].claude_code.{place}",
            f"claude-code agent {agent.id} can use no tool that changes files (permission mode "
            f"{mode}, none of Write, Edit, Bash allowed): the CLI will refuse them; allow them "
            'in claude_code.allowed_tools or set permission_mode = "acceptEdits" '
            "(docs/process-backends.md: permissions)",
        )


_LINTS = (
    missing_context,
    vague_tasks,
    coupling_without_events,
    no_failure_handling,
    over_parallel,
    sequential_in_parallel,
    no_file_tools,
)


def lint_spec(spec: Spec) -> list[Lint]:
    """Every lint the spec triggers, less the ones its `[lint] ignore` silences."""
    ignored = set(spec.lint.ignore)
    return [lint for check in _LINTS for lint in check(spec) if lint.id not in ignored]
