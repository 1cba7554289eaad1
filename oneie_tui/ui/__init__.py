"""Everything Textual lives here; nothing outside `oneie_tui/ui/` imports textual.

`app.OneieApp` is the entry point; `bridge.EventBridge` turns runner events into per-frame
updates of a `RunView`; `widgets/` render a `RunView`; `screens/` arrange them.
"""
