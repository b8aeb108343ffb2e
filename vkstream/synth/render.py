"""Render one synthetic sequence frame by frame, with exact labels and depth."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from vkstream.data.classes import TrainId
from vkstream.data.codec import quantize_depth
from vkstream.data.frame import FRAME_RATE_HZ, Frame, Intrinsics
from vkstream.synth.camera import camera_rays, kitti_like_intrinsics
from vkstream.synth.config import SynthConfig
from vkstream.synth.raycast import cast
from vkstream.synth.scene import Scene, Special
from vkstream.synth.shade import shade
from vkstream.synth.textures import build_texture_bank
from vkstream.synth.world import build_scene

MAX_DEPTH_M = 250.0
"""Depth PNGs hold at most 65535 / 256 m; the backdrop keeps every hit well inside that."""


def crowd_small_instances(instance: np.ndarray, min_height_px: float) -> np.ndarray:
    """``instance`` with every instance whose visible box is under ``min_height_px`` rows set to 0.

    Instance 0 on a thing class is crowd: scored as neither a track nor an error. KITTI labels objects
    too small or far away as DontCare and its benchmarks ignore boxes under 25 px, so a synthetic
    frame that tracks every speck would ask more of a model than KITTI does.
    """
    if min_height_px <= 0:
        return instance
    rows, cols = np.nonzero(instance)
    if not rows.size:
        return instance
    ids = instance[rows, cols]
    # np.nonzero walks rows in order: an id's first hit is its top row, its last hit its bottom row.
    found, first = np.unique(ids, return_index=True)
    _, last = np.unique(ids[::-1], return_index=True)
    height = rows[::-1][last] - rows[first] + 1
    small = found[height < min_height_px]
    if not small.size:
        return instance
    return np.where(np.isin(instance, small), np.zeros_like(instance), instance)


class SequenceRenderer:
    """A sequence's world, camera and textures; frames can be rendered in any order.

    Each frame's sensor noise comes from its own generator (seed, sequence, frame), so a frame's
    bytes do not depend on which frames were rendered before it.
    """

    def __init__(
        self,
        seed: int,
        sequence_index: int,
        frames: int,
        size: tuple[int, int],
        config: SynthConfig | None = None,
        name: str | None = None,
    ) -> None:
        self.config = config or SynthConfig()
        self.width, self.height = size
        self.frames = frames
        self.name = name if name is not None else f"{sequence_index:04d}"
        self._seed = (seed, sequence_index)
        rng = np.random.default_rng([seed, sequence_index, 0])
        self.scene: Scene = build_scene(rng, self.config, duration=max(frames - 1, 0) / FRAME_RATE_HZ)
        self.bank = build_texture_bank(rng)
        self.intrinsics: Intrinsics = kitti_like_intrinsics(
            self.width, self.height, self.config.camera.focal_px_at_1242
        )
        self.rays = camera_rays(self.intrinsics, self.width, self.height)
        pad = 64
        self.noise = (
            rng.standard_normal((self.height + pad, self.width + pad, 3)) * self.scene.noise_std
        ).astype(np.float32)

    def render(self, index: int) -> Frame:
        if not 0 <= index < self.frames:
            raise IndexError(f"frame {index} is outside the sequence's {self.frames} frames")
        t = index / FRAME_RATE_HZ
        pose = self.scene.trajectory.pose(t)
        centre, _ = self.scene.primitive_boxes(t)
        gbuf = cast(self.scene, centre, pose, self.rays, self.intrinsics)
        image = shade(
            self.scene,
            gbuf,
            pose.origin.astype(np.float32),
            centre,
            self.bank,
            self.noise,
            np.random.default_rng([*self._seed, 1, index]),
        )
        surface = gbuf.surface
        sky = surface == Special.SKY
        depth = quantize_depth(np.where(sky, 0.0, np.minimum(gbuf.depth, MAX_DEPTH_M)))
        instance = crowd_small_instances(
            self.scene.instance[surface], self.config.labels.min_height_at(self.height)
        )
        return Frame(
            sequence=self.name,
            index=index,
            timestamp=t,
            image=image,
            semantic=self.scene.semantic[surface],
            instance=instance,
            depth=depth,
            intrinsics=self.intrinsics,
        )

    def __iter__(self) -> Iterator[Frame]:
        for index in range(self.frames):
            yield self.render(index)

    @property
    def tracked_classes(self) -> dict[int, TrainId]:
        """Instance id -> class of every car and person that exists in this sequence."""
        return {k: TrainId(v) for k, v in self.scene.tracked.items()}
