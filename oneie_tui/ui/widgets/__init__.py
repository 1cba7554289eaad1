"""Dashboard widgets. They render from a `RunView` (oneie_tui.views.run_view) and nothing else,
so a replay screen reuses them without a runner.

The seam (kept stable for the history/replay screens):

- `RunHeader.refresh_from(view, now, metrics=None)`: spec name, status, elapsed as of
  `now` (epoch seconds: the app clock live, the replay clock in replay), overall progress
  (mean of agent percents), speedup, utilization, tokens, cost.
- `AgentGrid.set_roster(view, colors)` (async; mounts a panel per agent) then
  `AgentGrid.refresh_from(view, dirty=None, now=None, metrics=None, colors=None)`:
  redraws the panels of the `dirty` agent ids (all when None).
- `Timeline.refresh_from(view, colors=None)`: the view's lifecycle/coordination events;
  `Timeline.filter_text` filters by agent, action or type; `Timeline(actor=ID)` shows
  one agent's events.
- `agent_colors(view, app.theme_variables)`: the colour of each agent.
- `AgentPanel` keys post intents (`oneie_tui.ui.messages.PauseAgent`, `CancelAgent`,
  `RestartAgent`, `ZoomAgent`) that bubble to the screen. The dashboard sends them to the
  runner; a screen without a runner (replay) leaves them unhandled, so they do nothing.

Compute `metrics = view.metrics(now)` once per frame and pass it to header and grid.
"""

from oneie_tui.ui.widgets.agent_grid import AgentGrid
from oneie_tui.ui.widgets.agent_panel import AgentPanel
from oneie_tui.ui.widgets.colors import agent_colors
from oneie_tui.ui.widgets.header import RunHeader
from oneie_tui.ui.widgets.spec_editor import SpecEditor
from oneie_tui.ui.widgets.timeline import Timeline

__all__ = ["AgentGrid", "AgentPanel", "RunHeader", "SpecEditor", "Timeline", "agent_colors"]
