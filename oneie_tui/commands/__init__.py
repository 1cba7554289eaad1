"""One module per group of `oneie` subcommands (see cli.py)."""
