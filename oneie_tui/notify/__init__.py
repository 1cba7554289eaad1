"""Notifications: notices of run-level changes (the run finished, an agent needs the
user, the run waits only on paused or blocked agents), never one per event.

`detector` is the pure fold from events to `Notice` values (de-duplication, the quiet
period, folding); `settings` merges the user's config and the spec's `[notify]`;
`text` makes one safe line of anything shown; `terminal` builds the bell and OSC 9 / 777
bytes (the dashboard writes them through its driver); `channels` delivers through
`notify-send` and a webhook; `notifier` ties them to a bus, off the run's path."""
