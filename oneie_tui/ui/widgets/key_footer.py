"""The footer, with the keys a newcomer needs first (`q` quit, `?` every key, the way out
of the editor or a zoom) on the left, so a narrow terminal (80 columns) cuts the least
useful ones, not the way out. Otherwise Textual's footer (keymaps, palette key)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

# Actions shown first, in this order; the rest keep their order (focused widget first).
FIRST = ("quit", "app.quit", "app.toggle_keys", "toggle_keys", "leave", "app.pop_screen", "back")


class KeyFooter(Footer):
    def compose(self) -> ComposeResult:
        if not self._bindings_ready:
            return
        active = self.screen.active_bindings
        shown: dict[str, tuple[Binding, bool, str]] = {}
        for _, binding, enabled, tooltip in active.values():
            if binding.show and binding.action not in shown:
                shown[binding.action] = (binding, enabled, tooltip)
        ordered = sorted(shown, key=lambda a: FIRST.index(a) if a in FIRST else len(FIRST))
        self.styles.grid_size_columns = len(ordered)
        for action in ordered:
            binding, enabled, tooltip = shown[action]
            yield FooterKey(
                binding.key,
                self.app.get_key_display(binding),
                binding.description,
                binding.action,
                disabled=not enabled,
                tooltip=tooltip,
            ).data_bind(compact=Footer.compact)
        palette = active.get(self.app.COMMAND_PALETTE_BINDING)
        if self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE and palette is not None:
            yield FooterKey(
                palette.binding.key,
                self.app.get_key_display(palette.binding),
                palette.binding.description,
                palette.binding.action,
                classes="-command-palette",
                disabled=not palette.enabled,
                tooltip=palette.binding.tooltip or palette.binding.description,
            )
