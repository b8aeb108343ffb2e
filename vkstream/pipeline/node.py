"""What the runtime needs of a node; nodes satisfy it structurally and are loaded by import path.

The runtime never imports a node's module statically: a node is named in the config as
``package.module:Class`` (or a short name from :data:`NODE_TYPES`) and built inside its actor,
so the runtime stays free of any model code.
"""

from __future__ import annotations

import importlib
from typing import Any, Protocol, runtime_checkable

from vkstream.nodes.packet import Packet

NODE_TYPES: dict[str, str] = {
    "backbone": "vkstream.nodes.model_nodes:BackboneNode",
    "kernel_tracker": "vkstream.nodes.model_nodes:KernelTrackerNode",
    "depth_head": "vkstream.nodes.model_nodes:DepthHeadNode",
    "publisher": "vkstream.nodes.publish_node:PublishNode",
}
"""Short names for the product's nodes."""


@runtime_checkable
class Node(Protocol):
    """One step of the graph.

    ``process`` gets a batch of packets (at most one per stream, all with the same ``batch_key``)
    and returns the packets to pass on, in order; a packet it cannot handle it logs and leaves out,
    so one bad frame never fails the others. ``forget`` frees a detached stream's state.
    """

    def process(self, packets: list[Packet]) -> list[Packet]: ...

    def forget(self, stream: str) -> None: ...

    def close(self) -> None: ...


def node_target(kind: str) -> str:
    """The ``module:Class`` path of a node given by short name or path."""
    target = NODE_TYPES.get(kind, kind)
    module, sep, attr = target.partition(":")
    if not sep or not module or not attr:
        known = ", ".join(sorted(NODE_TYPES))
        raise ValueError(f"unknown node type {kind!r}: use one of {known} or 'package.module:Class'")
    return target


def build_node(kind: str, options: dict[str, Any]) -> Node:
    """Import and construct a node; errors name the node type."""
    target = node_target(kind)
    module_name, _, attr = target.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"cannot load node type {kind!r} ({target}): {exc}") from None
    node = cls(**options)
    if not isinstance(node, Node):
        raise TypeError(f"node type {kind!r} ({target}) lacks process/forget/close")
    return node


def node_report(node: Node) -> dict[str, Any]:
    """A node's optional ``report()`` (JSON-able), e.g. online evaluation scores; {} when it has none."""
    report = getattr(node, "report", None)
    return dict(report()) if callable(report) else {}
