from oneie_tui.cli import entry

entry()
