"""Git, run as a program (argv lists, never a shell): worktrees per agent, branches, diff stats."""
