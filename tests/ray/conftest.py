"""Ray for the executor's tests: small (one CPU, a 100 MB object store, no dashboard, no
usage reporting), one instance per module. Every test here carries the `ray` marker:
`pytest -m 'not ray'` leaves them out of a quick run; `make test` and CI run them."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
import ray  # after the usage-stats switch

SMALL: dict[str, Any] = {
    "object_store_memory": 100 * 1024 * 1024,
    "include_dashboard": False,
    "log_to_driver": False,
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.ray)


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    """A local Ray instance with agent slots, shared by one module's tests."""
    if ray.is_initialized():
        ray.shutdown()
    ray.init(address="local", num_cpus=1, resources={"agent_slot": 16}, **SMALL)
    try:
        yield
    finally:
        ray.shutdown()
