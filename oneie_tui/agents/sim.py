"""Simulated agents: the offline default for demos, tests and benchmarks.

A sim agent plans its life from the spec and a seed (output lines, progress, the events it
emits, an optional failure), then plays the plan against its own active time, so pausing
stretches the wall time but never the work. Output lines are generated as they fall due,
not up front, so a long or chatty agent costs no memory.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import anyio

from oneie_tui.agents.base import AgentBackend, AgentContext, AgentFailure, AgentResult
from oneie_tui.spec.model import AgentSpec
from oneie_tui.trust.redact import redact

_VERBS = {
    "backend": ["Defining table", "Writing mutation", "Adding query", "Indexing", "Wiring service for"],
    "frontend": ["Rendering list of", "Building form for", "Styling", "Adding route for", "Binding state of"],
    "quality": ["Writing test for", "Checking acceptance of", "Fuzzing", "Reviewing", "Asserting"],
    "integration": ["Connecting webhook for", "Mapping events of", "Syncing", "Retrying calls for"],
    "design": ["Sketching", "Laying out", "Choosing palette for", "Wireframing"],
    "documenter": ["Documenting", "Writing guide for", "Adding example of", "Indexing docs of"],
}
_DEFAULT_VERBS = ["Working on", "Planning", "Implementing", "Refining", "Checking"]

# Order of things due at the same instant: a failure first, then lines, progress, events.
_FAIL, _LINE, _PROGRESS, _EMIT = 0, 1, 2, 3


def fire_times(ctx: AgentContext, duration: float) -> dict[str, float]:
    """Active second at which each emitted event fires: the given ones, the others spread
    evenly over the duration with the last at the end."""
    opts = ctx.agent.sim
    speed = ctx.speed if ctx.speed > 0 else 1.0
    unscheduled = [e for e in ctx.agent.emits if e not in opts.events]
    out = {name: duration * (i + 1) / len(unscheduled) for i, name in enumerate(unscheduled)}
    for name, t in opts.events.items():
        out[name] = min(t / speed, duration)
    return out


def heard(ctx: AgentContext, text: str) -> None:
    """A sim agent takes a message by saying so, and goes on with its plan."""
    ctx.output(f"message received: {redact(text)}")


class SimBackend(AgentBackend):
    name = "sim"

    def takes_messages(self, agent: AgentSpec) -> bool:
        return True

    async def run(self, ctx: AgentContext) -> AgentResult:
        if ctx.followup:
            heard(ctx, ctx.followup)
        opts = ctx.agent.sim
        speed = ctx.speed if ctx.speed > 0 else 1.0
        duration = opts.duration / speed
        rng = random.Random(f"{ctx.seed}:{ctx.agent.id}:{ctx.attempt}")
        verbs = _VERBS.get(ctx.agent.role, _DEFAULT_VERBS)
        things = ctx.spec.feature.ontology.things or [ctx.spec.feature.name]

        marks: list[tuple[float, int, str]] = [
            (duration * step / 10, _PROGRESS, str(step * 10)) for step in range(1, 11)
        ]
        marks += [(t, _EMIT, name) for name, t in fire_times(ctx, duration).items()]
        if opts.fail_at is not None:
            marks.append((min(opts.fail_at / speed, duration), _FAIL, opts.error))
        marks.sort(key=lambda m: (m[0], m[1]))

        gap = 1.0 / (opts.lines_per_second * speed)
        n_lines = int(duration / gap)
        n_verbs, n_things = len(verbs), len(things)
        random_ = rng.random

        def lines() -> Iterator[tuple[float, str]]:
            # Line i falls in [i, i + 0.5) gaps: rising times, so they merge in order.
            for i in range(n_lines):
                t = (i + random_() * 0.5) * gap
                verb = verbs[int(random_() * n_verbs)]
                yield t, f"{verb} {things[int(random_() * n_things)]} ({i + 1})"

        inf = float("inf")
        line_iter = lines()
        line_t, line_text = next(line_iter, (inf, ""))
        mi = 0
        output = ctx.output

        while mi < len(marks) or line_t < inf:
            await ctx.checkpoint()
            if ctx.has_messages:  # its boundary: every step of the plan
                for text in ctx.take_messages():
                    heard(ctx, text)
            now = ctx.active_elapsed()
            mark = marks[mi] if mi < len(marks) else (inf, _EMIT, "")
            due = min(mark[0], line_t)
            if due > now:
                await anyio.sleep(due - now)
                continue
            # Play everything that is due: keeps high line rates cheap (no sleep per line).
            while True:
                # Lines due before the next mark (at the same instant: after a failure,
                # before progress and events).
                while line_t <= now and (line_t < mark[0] or (line_t == mark[0] and mark[1] != _FAIL)):
                    output(line_text)
                    line_t, line_text = next(line_iter, (inf, ""))
                if mark[0] > now:
                    break
                mi += 1
                _, kind, payload = mark
                if kind == _PROGRESS:
                    ctx.progress(float(payload))
                elif kind == _EMIT:
                    ctx.emit(payload, {"by": ctx.agent.id})
                else:
                    raise AgentFailure(payload)
                mark = marks[mi] if mi < len(marks) else (inf, _EMIT, "")
        for text in ctx.take_messages():  # said during its last step
            heard(ctx, text)
        return AgentResult(summary=f"{ctx.agent.role or 'agent'} finished: {ctx.agent.task}".strip())
