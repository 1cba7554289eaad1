"""The spec: one strict pydantic model for a feature, its ontology, run settings and agents.

Loading from TOML and turning every failure into one `SpecError` lives in `loader.py`;
this module holds the model and the checks that need the whole spec (ids, events, cycles).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, StringConstraints, WithJsonSchema

from oneie_tui.spec.base import StrictTyped
from oneie_tui.spec.options.claude import ClaudeOptions
from oneie_tui.spec.options.claude_code import ClaudeCodeOptions
from oneie_tui.spec.options.coding_cli import CodexOptions, GeminiOptions
from oneie_tui.spec.options.command import CommandOptions
from oneie_tui.trust.webhook_url import check_webhook_url

EVENT_NAME_RE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)+$")
AGENT_ID_RE = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
MAX_AGENTS = 1000

BackendName = Literal["sim", "claude", "command", "claude-code", "codex", "gemini"]
EventName = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Seconds = Annotated[float, Field(ge=0.0, le=86_400.0)]

# The lints of the reference's common mistakes (spec/lints.py), by id, for `[lint] ignore`.
LintId = Literal[
    "missing-context",
    "vague-task",
    "coupling-without-events",
    "no-failure-handling",
    "over-parallel",
    "sequential-in-parallel",
    "no-file-tools",
]
MAX_ESTIMATE_S = 366 * 86_400.0  # a year: longer is a typo, not a plan
MAX_CYCLE = 10_000
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(h|m|s)")
_UNIT_S = {"h": 3600.0, "m": 60.0, "s": 1.0}


def parse_duration(value: object) -> object:
    """`"2h"`, `"90m"`, `"1h30m"`, `"45s"` or a number of seconds, as seconds. Anything
    else is passed on unchanged for pydantic to reject with its own message."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return float(value)
    if not isinstance(value, str):
        return value
    text = value.strip().lower()
    parts = list(_DURATION_PART.finditer(text))
    if not text or not parts or "".join(m.group(0) for m in parts) != text.replace(" ", ""):
        raise ValueError(f"{value!r} is not a duration like \"2h\", \"90m\", \"1h30m\" or seconds")
    return sum(float(m.group(1)) * _UNIT_S[m.group(2)] for m in parts)


Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    Field(gt=0.0, le=MAX_ESTIMATE_S),
    WithJsonSchema({"anyOf": [{"type": "number"}, {"type": "string", "pattern": r"^(\d+(\.\d+)?[hms])+$"}]}),
]
_CYCLES_RE = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$")


def cycle_range(text: str) -> tuple[int, int]:
    """`"11-30"` as (11, 30); `"15"` as (15, 15). Raises ValueError on anything else."""
    m = _CYCLES_RE.match(text)
    if not m:
        raise ValueError(f"{text!r} is not a cycle range like \"11-30\"")
    first = int(m.group(1))
    last = int(m.group(2)) if m.group(2) is not None else first
    if not 1 <= first <= last <= MAX_CYCLE:
        raise ValueError(f"cycle range {text!r} must go from 1 up to {MAX_CYCLE}, first <= last")
    return first, last


def _check_cycles(value: object) -> object:
    if isinstance(value, str):
        cycle_range(value)
    return value


CycleRange = Annotated[str, BeforeValidator(_check_cycles), StringConstraints(max_length=32)]


class Ontology(StrictTyped):
    things: list[str] = Field(default_factory=list)
    connections: list[str] = Field(default_factory=list)
    events: list[str] = Field(default_factory=list)


class AcceptanceCheck(StrictTyped):
    """An acceptance criterion `oneie land` can run: `check` (argv, no shell) runs in a
    clean worktree of the landed branch and must exit 0 within `timeout` seconds."""

    text: Annotated[str, StringConstraints(min_length=1, max_length=2000)]
    check: list[Annotated[str, StringConstraints(min_length=1)]] = Field(
        default_factory=list, max_length=1000, description="argv of the check; empty: not runnable"
    )
    timeout: float = Field(default=120.0, gt=0.0, le=86_400.0)


class Feature(StrictTyped):
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    description: str = ""
    acceptance: list[str | AcceptanceCheck] = Field(
        default_factory=list, description="criteria: plain text, or { text, check = [argv], timeout }"
    )
    constraints: list[str] = Field(default_factory=list)
    ontology: Ontology = Field(default_factory=Ontology)

    def acceptance_texts(self) -> list[str]:
        return [a if isinstance(a, str) else a.text for a in self.acceptance]

    def acceptance_checks(self) -> list[AcceptanceCheck]:
        return [a for a in self.acceptance if not isinstance(a, str) and a.check]


class SimOptions(StrictTyped):
    """Options of the simulated backend. Times are seconds of the agent's active time."""

    duration: float = Field(default=1.0, ge=0.0, le=86_400.0)
    fail_at: float | None = Field(default=None, ge=0.0, description="fail this many seconds in")
    events: dict[str, Seconds] = Field(
        default_factory=dict,
        description="when each emitted event fires, in seconds; unlisted ones are spread evenly",
    )
    lines_per_second: float = Field(default=6.0, gt=0.0, le=100_000.0)
    error: str = "simulated failure"


class Budget(StrictTyped):
    """Limits on spend. An agent (or, in [run], the whole run) crossing one is cancelled
    with the reason `budget_exceeded`."""

    max_tokens: int | None = Field(default=None, ge=1)
    max_cost_usd: float | None = Field(default=None, gt=0.0)
    max_turns: int | None = Field(default=None, ge=1)


Isolation = Literal["none", "worktree"]
ScopeGlob = Annotated[str, StringConstraints(min_length=1, max_length=500)]


class RadarSettings(StrictTyped):
    """The conflict radar: how often isolated agents' worktrees are compared, and how many
    git processes it may run at once (its cost stays bounded however many agents run)."""

    enabled: bool = True
    interval: float = Field(default=2.0, ge=0.1, le=3600.0, description="seconds between scans")
    max_git: int = Field(default=4, ge=1, le=64, description="git processes at most at once")


class RunSettings(StrictTyped):
    backend: BackendName = "sim"
    model: str | None = None
    max_parallel: int = Field(default=0, ge=0, description="0 means no limit")
    on_failure: Literal["cancel", "continue"] = "cancel"
    timeout: float | None = Field(default=None, gt=0.0, description="whole-run timeout, seconds")
    seed: int = 0
    isolation: Isolation = "none"
    # Where the agents' backends run: here, or on the hosts of a Ray cluster (docs/cluster.md).
    executor: Literal["local", "ray"] = "local"
    # How an isolated agent's worktree reaches a Ray node other than the driver's.
    ray_checkout: Literal["auto", "origin", "bundle"] = Field(
        default="auto",
        description='"origin": nodes clone the origin URL; "bundle": the driver ships a git bundle; '
        '"auto": origin when it holds the base commit, else bundle',
    )
    worktree_dir: str = Field(
        default=".oneie/worktrees",
        description='where isolation = "worktree" puts the agents\' worktrees; inside the project',
    )
    budget: Budget = Field(default_factory=Budget)
    cycle: Duration | None = Field(
        default=None, description='length of one planning cycle, e.g. "6m"; the plan counts in cycles too'
    )
    radar: RadarSettings = Field(default_factory=RadarSettings)
    on_scope_exceeded: Literal["report", "pause"] = Field(
        default="report",
        description="a change outside an agent's scope is reported (scope_exceeded), or also pauses it",
    )


NoticeKindName = Literal["finished", "attention", "stalled"]
DesktopChoice = Literal["auto", "osc9", "osc777", "notify-send"]
MAX_QUIET_S = 86_400.0


def _webhook(value: object) -> object:
    return check_webhook_url(value) if isinstance(value, str) else value


def _serve_url(value: object) -> object:
    return check_webhook_url(value, "serve URL") if isinstance(value, str) else value


class NotifyTable(StrictTyped):
    """`[notify]`, in a spec or in the user's config (the spec's keys win): notices of
    run-level changes (docs/notifications.md). A key left out is "not set", so a spec
    overrides only what it names."""

    enabled: bool | None = Field(default=None, description="notify at all (default true)")
    headless: bool | None = Field(default=None, description="also in `oneie run --headless` (default false)")
    bell: bool | None = Field(default=None, description="ring the terminal bell (default true)")
    desktop: bool | DesktopChoice | None = Field(
        default=None, description='desktop notices: "auto" (default), "osc9", "osc777", "notify-send", false'
    )
    webhook: Annotated[str, BeforeValidator(_webhook)] | None = Field(
        default=None, description="POST each notice as JSON here: https://, or http:// to loopback only"
    )
    serve_url: Annotated[str, BeforeValidator(_serve_url)] | None = Field(
        default=None, description="the `oneie serve --public-url` address: the webhook's link is its /watch/RUN page"
    )
    quiet_seconds: float | None = Field(
        default=None, ge=0.0, le=MAX_QUIET_S, description="the same kind of change is sent once per this many seconds (default 30)"
    )
    events: list[NoticeKindName] | None = Field(
        default=None, max_length=3, description='which changes: "finished", "attention", "stalled" (default all)'
    )


class LandSettings(StrictTyped):
    """How `oneie land` brings the agents' branches together."""

    resolve_with: Annotated[str, StringConstraints(pattern=AGENT_ID_RE)] | None = Field(
        default=None,
        description="an agent of the roster that resolves a branch's merge conflicts "
        "(in a worktree of the landed branch) instead of leaving the branch out",
    )


class LintSettings(StrictTyped):
    ignore: list[LintId] = Field(default_factory=list, description="lint ids not to report")


class AgentSpec(StrictTyped):
    id: Annotated[str, StringConstraints(pattern=AGENT_ID_RE)]
    role: str = ""
    task: str = ""
    emits: list[EventName] = Field(default_factory=list)
    after: list[EventName] = Field(default_factory=list, description="start when all have fired")
    after_any: list[EventName] = Field(
        default_factory=list, description="start when the first of these fires"
    )
    race: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = Field(
        default=None, description="first success in the group wins"
    )
    backend: BackendName | None = None
    model: str | None = None
    timeout: float | None = Field(default=None, gt=0.0)
    color: str | None = None
    profile: str | None = Field(
        default=None, description="Claude Code agent file (.claude/agents/NAME.md) for the role"
    )
    isolation: Isolation | None = None
    scope: list[ScopeGlob] = Field(
        default_factory=list,
        max_length=1000,
        description="paths this agent may change: gitignore-style globs relative to the project",
    )
    budget: Budget = Field(default_factory=Budget)
    sim: SimOptions = Field(default_factory=SimOptions)
    claude: ClaudeOptions = Field(default_factory=ClaudeOptions)
    command: CommandOptions = Field(default_factory=CommandOptions)
    claude_code: ClaudeCodeOptions = Field(default_factory=ClaudeCodeOptions)
    estimate: Duration | None = Field(
        default=None, description='planned active time: "2h", "90m", "1h30m" or seconds'
    )
    cycles: CycleRange | None = Field(
        default=None, description='the cycles of the plan this agent takes, e.g. "11-30"'
    )
    codex: CodexOptions = Field(default_factory=CodexOptions)
    gemini: GeminiOptions = Field(default_factory=GeminiOptions)


class Spec(StrictTyped):
    feature: Feature
    run: RunSettings = Field(default_factory=RunSettings)
    lint: LintSettings = Field(default_factory=LintSettings)
    notify: NotifyTable = Field(default_factory=NotifyTable)
    land: LandSettings = Field(default_factory=LandSettings)
    agents: list[AgentSpec] = Field(min_length=1, max_length=MAX_AGENTS)

    def agent(self, agent_id: str) -> AgentSpec:
        for agent in self.agents:
            if agent.id == agent_id:
                return agent
        raise KeyError(agent_id)

    def backend_of(self, agent: AgentSpec) -> str:
        return agent.backend or self.run.backend

    def on_call(self) -> frozenset[str]:
        """Agents that do not run with the squad: the `[land] resolve_with` resolver, whom
        `oneie land` starts when a branch conflicts."""
        return frozenset({self.land.resolve_with} if self.land.resolve_with else ())

    def emitters(self) -> dict[str, list[str]]:
        """Which agents emit each event name."""
        out: dict[str, list[str]] = {}
        for agent in self.agents:
            for name in agent.emits:
                out.setdefault(name, []).append(agent.id)
        return out


class SpecProblem(Exception):
    """A whole-spec check failed at a field path such as `agents[2].after[0]`."""

    def __init__(self, location: str, message: str) -> None:
        super().__init__(message)
        self.location = location
        self.message = message


def check_spec(spec: Spec) -> None:
    """The checks one field cannot make alone. Raises the first `SpecProblem` found."""
    seen: dict[str, int] = {}
    for i, agent in enumerate(spec.agents):
        if agent.id in seen:
            raise SpecProblem(
                f"agents[{i}].id",
                f"duplicate agent id {agent.id!r} (first used by agents[{seen[agent.id]}])",
            )
        seen[agent.id] = i

    for j, name in enumerate(spec.feature.ontology.events):
        if not EVENT_NAME_RE.match(name):
            raise SpecProblem(
                f"feature.ontology.events[{j}]",
                f"event name {name!r} is not {{domain}}_{{action}} snake_case "
                "(for example 'course_created')",
            )

    for i, agent in enumerate(spec.agents):
        for field in ("emits", "after", "after_any"):
            for j, name in enumerate(getattr(agent, field)):
                if not EVENT_NAME_RE.match(name):
                    raise SpecProblem(
                        f"agents[{i}].{field}[{j}]",
                        f"event name {name!r} is not {{domain}}_{{action}} snake_case "
                        "(for example 'schema_ready')",
                    )
        for name in agent.sim.events:
            if name not in agent.emits:
                raise SpecProblem(
                    f"agents[{i}].sim.events.{name}",
                    f"{name!r} has a firing time but is not in this agent's emits",
                )

    resolver = spec.land.resolve_with
    if resolver is not None and resolver not in seen:
        raise SpecProblem(
            "land.resolve_with",
            f"resolver {resolver!r} is not an agent of this spec (agents: {', '.join(seen)})",
        )

    emitters = spec.emitters()
    on_call = spec.on_call()
    for i, agent in enumerate(spec.agents):
        for field in ("after", "after_any"):
            for j, name in enumerate(getattr(agent, field)):
                if name not in emitters:
                    raise SpecProblem(
                        f"agents[{i}].{field}[{j}]",
                        f"agent {agent.id!r} waits for {name!r}, which no agent emits",
                    )
                if agent.id not in on_call and set(emitters[name]) <= on_call:
                    raise SpecProblem(
                        f"agents[{i}].{field}[{j}]",
                        f"agent {agent.id!r} waits for {name!r}, which only the resolver "
                        f"{spec.land.resolve_with!r} emits, and the resolver does not run with the squad",
                    )

    cycle = find_cycle(spec)
    if cycle:
        first = spec.agents[seen[cycle[0]]]
        nxt = cycle[1] if len(cycle) > 1 else cycle[0]
        field, j = _awaited_field(first, spec.agent(nxt).emits)
        raise SpecProblem(
            f"agents[{seen[cycle[0]]}].{field}[{j}]",
            "dependency cycle: " + " → ".join([*cycle, cycle[0]]) + " (each waits for an event "
            "the next one emits, so none can start)",
        )


def _awaited_field(agent: AgentSpec, emitted: list[str]) -> tuple[str, int]:
    """Where `agent` waits for one of `emitted` (for the error's field path)."""
    for field in ("after", "after_any"):
        for j, name in enumerate(getattr(agent, field)):
            if name in emitted:
                return field, j
    return "after", 0


def find_cycle(spec: Spec) -> list[str] | None:
    """Agents that can never start because they wait on each other, as one named cycle.

    An agent can start when every `after` event has an emitter that can start and, if it
    has `after_any`, at least one of those does. What never becomes startable is stuck in
    (or behind) a cycle; we then follow the edges that actually block (an awaited event
    none of whose emitters can start) to name the loop itself.
    """
    emitters = spec.emitters()
    startable: set[str] = set()
    changed = True
    while changed:
        changed = False
        for agent in spec.agents:
            if agent.id in startable:
                continue
            all_ok = all(any(e in startable for e in emitters.get(n, [])) for n in agent.after)
            any_ok = not agent.after_any or any(
                e in startable for n in agent.after_any for e in emitters.get(n, [])
            )
            if all_ok and any_ok:
                startable.add(agent.id)
                changed = True
    stuck = [a.id for a in spec.agents if a.id not in startable]
    if not stuck:
        return None

    def blockers(agent: AgentSpec) -> list[str]:
        out: list[str] = []
        for name in agent.after:
            if not any(e in startable for e in emitters.get(name, [])):
                out += emitters.get(name, [])
        if agent.after_any and not any(
            e in startable for n in agent.after_any for e in emitters.get(n, [])
        ):
            out += [e for n in agent.after_any for e in emitters.get(n, [])]
        return out

    # Every stuck agent has a stuck blocker, so following them must repeat a node: the cycle.
    path: list[str] = []
    node = stuck[0]
    while node not in path:
        path.append(node)
        nxt = blockers(spec.agent(node))
        if not nxt:  # pragma: no cover - impossible once every awaited event has an emitter
            return path
        node = nxt[0]
    return path[path.index(node) :]


def spec_json_schema() -> dict[str, Any]:
    schema = Spec.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "oneie spec"
    return schema
