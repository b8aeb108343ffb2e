"""Short names for nodes, sources and config schemas, in one registry that other packages extend.

The product's own entries are listed here; an installed package adds its own through Python entry
points (groups ``vkstream.nodes``, ``vkstream.sources``, ``vkstream.configs``), e.g. in its
pyproject.toml::

    [project.entry-points."vkstream.nodes"]
    lidar_fusion = "my_package.fusion:LidarFusionNode"

Entries are ``module:attribute`` strings imported on first use, so listing names imports nothing.
A config may also name a node by its path, ``package.module:Class``.
"""

from __future__ import annotations

import importlib
import logging
from functools import cache
from importlib.metadata import entry_points
from typing import Any, Literal

log = logging.getLogger(__name__)

Kind = Literal["node", "source", "config"]
GROUPS: dict[Kind, str] = {
    "node": "vkstream.nodes",
    "source": "vkstream.sources",
    "config": "vkstream.configs",
}
WHAT: dict[Kind, str] = {"node": "node type", "source": "source kind", "config": "config schema"}
BUILTIN: dict[Kind, dict[str, str]] = {
    "node": {
        "backbone": "vkstream.nodes.model_nodes:BackboneNode",
        "kernel_tracker": "vkstream.nodes.model_nodes:KernelTrackerNode",
        "depth_head": "vkstream.nodes.model_nodes:DepthHeadNode",
        "publisher": "vkstream.nodes.publish_node:PublishNode",
        "evaluator": "vkstream.nodes.evaluate_node:EvaluateNode",
        "recorder": "vkstream.nodes.record_node:RecordNode",
    },
    "source": {
        "camera": "vkstream.nodes.sources.opencv:CameraSource",
        "url": "vkstream.nodes.sources.opencv:UrlSource",
        "video": "vkstream.nodes.sources.opencv:VideoFileSource",
        "images": "vkstream.nodes.sources.replay:ImageFolderSource",
        "kitti": "vkstream.nodes.sources.replay:KittiReplaySource",
    },
    "config": {
        "pipeline": "vkstream.pipeline.config:PipelineConfig",
        "synth": "vkstream.synth:SynthConfig",
        "train": "vkstream.train:TrainConfig",
    },
}


@cache
def entries(kind: Kind) -> dict[str, str]:
    """Name -> ``module:attribute`` of every registered ``kind``: the product's, then installed packages'."""
    found = dict(BUILTIN[kind])
    for point in entry_points(group=GROUPS[kind]):
        if point.name in found and found[point.name] != point.value:
            log.warning("%s %r of %s is ignored: the name is taken", WHAT[kind], point.name, point.value)
            continue
        found[point.name] = point.value
    return found


def names(kind: Kind) -> tuple[str, ...]:
    return tuple(sorted(entries(kind)))


def load(kind: Kind, name: str) -> Any:
    """The registered object (or, for nodes, ``package.module:Class``); ValueError in one line."""
    target = entries(kind).get(name)
    if target is None and kind == "node" and ":" in name:
        target = name
    if target is None:
        hint = " or 'package.module:Class'" if kind == "node" else ""
        raise ValueError(f"unknown {WHAT[kind]} {name!r}: use one of {', '.join(names(kind))}{hint}")
    module, _, attr = target.partition(":")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"cannot load {WHAT[kind]} {name!r} ({target}): {exc}") from None
