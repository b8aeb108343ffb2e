"""Node state kept outside the node actors' processes, so that a restarted actor's nodes load it back.

Ray reruns a dead actor's constructor with its first arguments and nothing else: what the nodes knew
(the port a publisher bound, its per-stream counts, the online scores so far, which replays wait for
acknowledgements) died with the process. Each pipeline runs one small store actor; a node saves into
it as it goes (without waiting: saves from one actor reach the store in the order they were made) and
its restarted successor loads the latest save.
"""

from __future__ import annotations

import os
from typing import Any

import ray

from vkstream.nodes.node import NodeState
from vkstream.pipeline.outlet import Outlet

LOAD_TIMEOUT_S = 10.0


@ray.remote(num_cpus=0)
class StateStore:
    """Key -> the latest value saved under it."""

    def __init__(self) -> None:
        self._values: dict[str, Any] = {}

    def save(self, key: str, value: Any) -> None:
        self._values[key] = value

    def load(self, key: str) -> Any:
        return self._values.get(key)

    def keys(self) -> list[str]:
        return sorted(self._values)

    def pid(self) -> int:
        return os.getpid()


class StoredState(NodeState):
    """A node's state in its pipeline's :class:`StateStore`, under the node's name."""

    def __init__(self, store: Any, key: str) -> None:
        self.key = key
        self._store = store
        self._outlet = Outlet(store, "save", max_outstanding=8)

    def load(self) -> Any:
        return ray.get(self._store.load.remote(self.key), timeout=LOAD_TIMEOUT_S)

    def save(self, value: Any) -> None:
        self._outlet.send(self.key, value)  # Ray pickles the value now: later changes do not leak in

    @property
    def failed(self) -> int:
        """Saves that did not reach the store (it was gone or stuck)."""
        return self._outlet.failed
