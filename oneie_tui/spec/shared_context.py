"""The shared context: the spec rendered once, byte-identical for every agent.

Backends that talk to a model (claude, claude-code) send this block first, so a prompt
cache can serve it to every agent after the first: the reference's "context loaded once".
"""

from __future__ import annotations

from oneie_tui.spec.model import AgentSpec, Spec


def _bullets(items: list[str]) -> str:
    return "\n".join(f"- {item}" for item in items) if items else "- (none)"


def render_shared_context(spec: Spec) -> str:
    f = spec.feature
    o = f.ontology
    roster = []
    for a in spec.agents:
        line = f"- {a.id} ({a.role or 'agent'}): {a.task or '(no task)'}"
        waits = []
        if a.after:
            waits.append("waits for all of " + ", ".join(a.after))
        if a.after_any:
            waits.append("waits for the first of " + ", ".join(a.after_any))
        if a.emits:
            waits.append("emits " + ", ".join(a.emits))
        if a.race:
            waits.append(f"races in group {a.race!r} (first success wins)")
        if a.scope:
            waits.append("changes only " + ", ".join(a.scope))
        if waits:
            line += "; " + "; ".join(waits)
        roster.append(line)
    return (
        f"# Feature: {f.name}\n\n"
        f"{f.description or '(no description)'}\n\n"
        "## Ontology\n"
        f"Things: {', '.join(o.things) or '(none)'}\n"
        f"Connections: {', '.join(o.connections) or '(none)'}\n"
        f"Events: {', '.join(o.events) or '(none)'}\n\n"
        f"## Acceptance criteria\n{_bullets(f.acceptance_texts())}\n\n"
        f"## Constraints\n{_bullets(f.constraints)}\n\n"
        "## Agents working in parallel on this feature\n"
        + "\n".join(roster)
        + "\n\nAll agents share this context and coordinate through named events "
        "({domain}_{action}, for example schema_ready).\n"
    )


def render_agent_brief(agent: AgentSpec, role_prompt: str = "") -> str:
    """What follows the shared block for one agent: its role and task."""
    parts = [f"You are {agent.id}, the {agent.role or 'agent'} of this squad."]
    if role_prompt:
        parts.append(role_prompt.strip())
    parts.append(f"Your task: {agent.task or '(no task given)'}")
    if agent.emits:
        parts.append("Emit these events when they become true: " + ", ".join(agent.emits) + ".")
    if agent.after or agent.after_any:
        parts.append(
            "You were started because the events you wait for have fired: "
            + ", ".join([*agent.after, *agent.after_any])
            + "."
        )
    return "\n\n".join(parts)
