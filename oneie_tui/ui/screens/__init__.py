"""Screens: dashboard (editor, grid, timeline), agent (zoom), picker, confirm.
`history.py` and `replay.py` belong to the history/replay work."""
