"""Small text formats shared by the widgets (durations, tokens, money, status labels)."""

from __future__ import annotations

from oneie_tui.views.run_view import AgentView

BADGE = {
    "pending": "idle",
    "queued": "queued",
    "waiting": "waiting",
    "running": "running",
    "paused": "paused",
    "completed": "done",
    "failed": "failed",
    "cancelled": "cancelled",
    "blocked": "blocked",
}


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def tokens(count: int) -> str:
    if count < 1000:
        return str(count)
    if count < 1_000_000:
        return f"{count / 1000:.1f}k"
    return f"{count / 1_000_000:.2f}M"


def money(usd: float) -> str:
    return f"${usd:.4f}" if usd < 10 else f"${usd:.2f}"


def speedup(value: float) -> str:
    """Every speedup on screen goes through here, so one run reads the same everywhere."""
    return f"{value:.2f}×"


def badge(agent: AgentView) -> str:
    """The status badge, e.g. `waiting for schema_ready`."""
    if agent.status == "waiting" and agent.waiting_for:
        return "waiting for " + ", ".join(agent.waiting_for)
    return BADGE.get(agent.status, agent.status)
