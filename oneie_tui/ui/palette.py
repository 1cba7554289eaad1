"""Command palette providers."""

from __future__ import annotations

from typing import Any

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider


class ScreenActions(Provider):
    """Every key binding of the current screen, in the command palette too."""

    def _commands(self) -> list[tuple[str, str, str]]:
        screen = self.screen
        out = []
        for binding in screen.BINDINGS:
            if isinstance(binding, Binding) and binding.description:
                out.append((binding.description, binding.action, binding.key))
        return out

    async def discover(self) -> Hits:
        for name, action, key in self._commands():
            yield DiscoveryHit(name, self._runner(action), help=f"key: {key}")

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, action, key in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), self._runner(action), help=f"key: {key}")

    def _runner(self, action: str) -> Any:
        screen = self.screen

        async def run() -> None:
            await screen.run_action(action)

        return run
