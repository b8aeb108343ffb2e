"""One registry of short names for nodes, sources and config schemas, that installed packages extend."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from vkstream.nodes import registry
from vkstream.nodes.model_nodes import DepthHeadNode
from vkstream.nodes.sources import source_class
from vkstream.nodes.sources.replay import KittiReplaySource

PLUGIN = """
import time
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

from vkstream.nodes.node import IMAGE, Node, Port, ports
from vkstream.nodes.sources import FrameSource, SourceOptions


class BrightnessNode(Node):
    inputs = ports(image=Port(IMAGE))


class NoiseSpec(SourceOptions):
    kind: Literal["noise"] = "noise"
    frames: int = Field(default=3, ge=1)


class NoiseSource(FrameSource[NoiseSpec]):
    Spec = NoiseSpec

    def describe(self) -> str:
        return "noise"

    def _open(self) -> None:
        self.left = self.spec.frames

    def _read(self):
        if not self.left:
            return None
        self.left -= 1
        return self._emit(np.zeros((4, 6, 3), np.uint8), {"intrinsics": None})

    def _close(self) -> None:
        pass


class FleetConfig(BaseModel):
    robots: int = Field(default=2, description="robots in the fleet")
"""

ENTRY_POINTS = """
[vkstream.nodes]
brightness = fake_vk_plugin:BrightnessNode
publisher = fake_vk_plugin:BrightnessNode

[vkstream.sources]
noise = fake_vk_plugin:NoiseSource

[vkstream.configs]
fleet = fake_vk_plugin:FleetConfig
"""


def test_the_products_names_resolve_without_importing_anything_else() -> None:
    assert {"backbone", "kernel_tracker", "depth_head", "publisher", "evaluator", "recorder"} <= set(
        registry.names("node")
    )
    assert registry.names("source") == ("camera", "images", "kitti", "url", "video")
    assert registry.load("node", "depth_head") is DepthHeadNode
    assert registry.load("node", "vkstream.nodes.model_nodes:DepthHeadNode") is DepthHeadNode
    assert source_class("kitti") is KittiReplaySource
    with pytest.raises(ValueError, match="unknown source kind 'webcam': use one of camera, images, kitti"):
        source_class("webcam")
    with pytest.raises(ValueError, match=r"or 'package\.module:Class'"):
        registry.load("node", "nonsense")


def test_an_installed_package_adds_nodes_sources_and_configs(tmp_path: Path) -> None:
    (tmp_path / "fake_vk_plugin.py").write_text(PLUGIN)
    info = tmp_path / "fake_vk_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-vk-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    config = tmp_path / "plugin.yaml"
    config.write_text(
        textwrap.dedent(
            """
            nodes: [{name: bright, type: brightness}]
            streams: [{id: fake, source: {kind: noise, frames: 5}}]
            """
        )
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}

    def vkstream(*args: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "vkstream", *args]
        return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, check=False)

    dry = vkstream("run", str(config), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert (
        "ingest: fake (noise)" in dry.stdout and "bright [brightness] <- ingest.image  (sink)" in dry.stdout
    )
    assert (
        "node type 'publisher' of fake_vk_plugin:BrightnessNode is ignored: the name is taken" in dry.stderr
    )
    assert "robots: 2" in vkstream("config", "show", "fleet").stdout
    assert "frames: 3" in vkstream("config", "show", "source:noise").stdout
    opened = subprocess.run(
        [sys.executable, "-c", "from vkstream.nodes.sources import open_source, source_class\n"
         "source = open_source(source_class('noise').Spec(frames=2)); source.open()\n"
         "print(sum(1 for _ in iter(source.read, None)))"],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert opened.stdout.strip() == "2", opened.stderr
