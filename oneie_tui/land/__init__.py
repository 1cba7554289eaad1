"""Landing the squad's work: the conflict radar while isolated agents run (radar.py),
scopes (scope.py), `oneie land`'s merge queue (landing.py) and the acceptance checks run on
the landed tree (acceptance.py). Imports spec, store, events and engine.worktree only."""
