"""Isolated agents on Ray nodes: which attempts get their worktree on their node, what
the driver ships for it, and the agent's branch coming back (git/remote_checkout does
the git).

An isolated agent whose host is on the driver's own node works in its local worktree,
as without Ray. On any other node (or on every node, with `ONEIE_RAY_SHIP_WORKTREES=1`:
one machine, tests) the host makes the worktree in the node's folder from a clone of
the project: the driver's `origin` URL or a `git bundle` the driver puts in the Ray
object store (`[run] ray_checkout`). The agent's commits come back as a bundle in the
host's stream; the driver fetches them onto the same branch and fast-forwards oneie's
local worktree of it, which the radar, review and landing read as for a local agent.
The radar sees a remote agent's changes when its branch comes back, at its end.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from oneie_tui.events import EventType
from oneie_tui.git.remote_checkout import (
    NodeCheckout,
    bundle,
    fetch_back,
    identity_of,
    origin_has,
    origin_url,
    rev,
)

if TYPE_CHECKING:
    from oneie_tui.git.worktree import Worktree
    from oneie_tui.store.base import Store

SHIP_ENV = "ONEIE_RAY_SHIP_WORKTREES"  # "1": ship clones to every node, the driver's too
NODE_DIR_ENV = "ONEIE_NODE_DIR"  # on a node: where its agents' clones and worktrees go
MAX_BUNDLE = 2 * 1024**3  # a bundle is one Ray object: refuse to ship a repository bigger


class CheckoutError(Exception):
    """The worktrees cannot reach the nodes as configured. One line."""


@dataclass(frozen=True)
class Shipped:
    """One attempt's checkout, in the host request."""

    checkout: NodeCheckout
    history: Any  # a Ray ObjectRef of a bundle with the base's history, or None
    delta: bytes | None  # the branch's commits since the base, or None
    previous_node: str  # the node of the attempt before (its worktree), "" if none
    had_session: bool  # the driver hands the backend a session of this agent to continue


def node_dir_for(node_id: str) -> Path:
    """The node's folder for clones and worktrees: $ONEIE_NODE_DIR, else one per node
    in the temporary folder (named by node: nodes of one machine do not share it)."""
    configured = os.environ.get(NODE_DIR_ENV)
    if configured:
        return Path(configured)
    return Path(tempfile.gettempdir()) / f"oneie-node-{node_id[:16]}"


def stored_placements(store: Store | None, run_id: str) -> dict[str, str]:
    """The node each agent's worktree or coding-CLI session was on in an earlier life of
    this run (resume): the later of the two."""
    if store is None:
        return {}
    found: dict[str, str] = {}
    try:
        infos = store.events_of_types(run_id, [EventType.AGENT_INFO], up_to_seq=2**62, limit=2**31)
    except Exception:  # no such run yet
        return {}
    for e in infos:
        if e.metadata.get("node") and (e.metadata.get("checkout") or e.metadata.get("session_id")):
            found[e.actor] = str(e.metadata["node"])
    return found


class Shipper:
    """The driver's side: decides per attempt, ships, brings the branch back."""

    def __init__(
        self,
        worktrees: Mapping[str, Worktree],
        url: str | None,
        driver_node: str,
        previous: dict[str, str],
        force: bool = False,
    ) -> None:
        self.worktrees = worktrees
        self.url = url  # None: ship bundles
        self.driver_node = driver_node
        self.last_node = previous  # agent -> node of its latest worktree (the executor's)
        self.force = force
        self._identity: dict[str, str] | None = None

    @classmethod
    def for_run(
        cls, worktrees: Mapping[str, Worktree], mode: str, driver_node: str, previous: dict[str, str]
    ) -> Shipper | None:
        """None when the run has no isolated agent. CheckoutError when `mode` cannot work."""
        if not worktrees:
            return None
        any_wt = next(iter(worktrees.values()))
        url: str | None = None
        if mode in ("auto", "origin"):
            found = origin_url(any_wt.path)
            if found and origin_has(any_wt.path, any_wt.base):
                url = found
            elif mode == "origin":
                why = "has no origin" if not found else f"has not pushed {any_wt.base[:12]} to origin"
                raise CheckoutError(f'ray_checkout = "origin", but the project\'s repository {why}')
        return cls(worktrees, url, driver_node, previous, force=os.environ.get(SHIP_ENV) == "1")

    def ships_to(self, agent_id: str, node_id: str) -> bool:
        return agent_id in self.worktrees and (self.force or node_id != self.driver_node)

    def prepare(self, agent_id: str, node_id: str, has_history: bool, had_session: bool) -> Shipped:
        """What the node needs (blocking git; run in a thread). The history goes to the
        object store once per host; later attempts there get only their branch's own
        commits."""
        import ray

        wt = self.worktrees[agent_id]
        branch_ref = f"refs/heads/{wt.branch}"
        tip = rev(wt.path, branch_ref)
        if self._identity is None:
            self._identity = identity_of(wt.path)
        history: Any = None
        delta: bytes | None = None
        if self.url is None and not has_history:
            data = bundle(wt.path, branch_ref)
            if data is not None and len(data) > MAX_BUNDLE:
                raise CheckoutError(
                    f"the project's bundle is {len(data) // 1024**2} MB: push it to origin and use ray_checkout = \"origin\""
                )
            history = ray.put(data)
        else:
            delta = bundle(wt.path, branch_ref, since=wt.base)
        checkout = NodeCheckout(wt.run_id, agent_id, wt.branch, wt.base, tip, self.url, dict(self._identity))
        return Shipped(checkout, history, delta, self.last_node.get(agent_id, ""), had_session)

    def bring_back(self, agent_id: str, head: str, data: bytes | None) -> None:
        """The agent's commits onto its branch here (blocking git; run in a thread)."""
        if data is None:
            return
        wt = self.worktrees[agent_id]
        fetch_back(wt.path, wt.path, wt.branch, head, data)
