"""Simulated agents: the offline default for demos, tests and benchmarks.

A sim agent plans its whole life up front from the spec and a seed (output lines,
progress, the events it emits, an optional failure), then plays the plan against its
own active time, so pausing stretches the wall time but never the work.
"""

from __future__ import annotations

import random

import anyio

from oneie_tui.agents.base import AgentContext, AgentFailure, AgentResult

_VERBS = {
    "backend": ["Defining table", "Writing mutation", "Adding query", "Indexing", "Wiring service for"],
    "frontend": ["Rendering list of", "Building form for", "Styling", "Adding route for", "Binding state of"],
    "quality": ["Writing test for", "Checking acceptance of", "Fuzzing", "Reviewing", "Asserting"],
    "integration": ["Connecting webhook for", "Mapping events of", "Syncing", "Retrying calls for"],
    "design": ["Sketching", "Laying out", "Choosing palette for", "Wireframing"],
    "documenter": ["Documenting", "Writing guide for", "Adding example of", "Indexing docs of"],
}
_DEFAULT_VERBS = ["Working on", "Planning", "Implementing", "Refining", "Checking"]


class SimBackend:
    name = "sim"

    async def run(self, ctx: AgentContext) -> AgentResult:
        opts = ctx.agent.sim
        speed = ctx.speed if ctx.speed > 0 else 1.0
        duration = opts.duration / speed
        rng = random.Random(f"{ctx.seed}:{ctx.agent.id}:{ctx.attempt}")
        verbs = _VERBS.get(ctx.agent.role, _DEFAULT_VERBS)
        things = ctx.spec.feature.ontology.things or [ctx.spec.feature.name]

        # Fire times (active seconds): given ones, the rest spread evenly, the last at the end.
        emits = list(ctx.agent.emits)
        fire_at: dict[str, float] = {}
        unscheduled = [e for e in emits if e not in opts.events]
        for i, name in enumerate(unscheduled):
            fire_at[name] = duration * (i + 1) / len(unscheduled)
        for name, t in opts.events.items():
            fire_at[name] = min(t / speed, duration)
        fail_at = None if opts.fail_at is None else min(opts.fail_at / speed, duration)

        line_gap = 1.0 / (opts.lines_per_second * speed)
        n_lines = int(duration / line_gap) if line_gap > 0 else 0
        plan: list[tuple[float, int, str, str]] = []  # (time, order, kind, payload)
        for i in range(n_lines):
            t = (i + rng.random() * 0.5) * line_gap
            plan.append((t, 1, "line", f"{rng.choice(verbs)} {rng.choice(things)} ({i + 1})"))
        for step in range(1, 11):
            plan.append((duration * step / 10, 2, "progress", str(step * 10)))
        for name, t in fire_at.items():
            plan.append((t, 3, "emit", name))
        if fail_at is not None:
            plan.append((fail_at, 0, "fail", opts.error))
        plan.sort(key=lambda item: (item[0], item[1]))

        ctx.progress(0, "started")
        index = 0
        while index < len(plan):
            await ctx.checkpoint()
            now = ctx.active_elapsed()
            due = plan[index][0]
            if due > now:
                await anyio.sleep(due - now)
                continue
            # Play everything that is due: keeps high line rates cheap (no sleep per line).
            while index < len(plan) and plan[index][0] <= now:
                _, _, kind, payload = plan[index]
                index += 1
                if kind == "line":
                    ctx.output(payload)
                elif kind == "progress":
                    ctx.progress(float(payload))
                elif kind == "emit":
                    ctx.emit(payload, {"by": ctx.agent.id})
                else:
                    raise AgentFailure(payload)
        return AgentResult(summary=f"{ctx.agent.role or 'agent'} finished: {ctx.agent.task}".strip())
