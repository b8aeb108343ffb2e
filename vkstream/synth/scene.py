"""The tables that hold one sequence's 3D content, as the ray caster and shader read them.

A world (vkstream.synth.world) is laid out once per sequence as flat tables of
surfaces (what a pixel can show: class, instance, material) and primitives (axis-aligned
boxes and ellipsoids that the ray caster intersects). Moving objects are agents with
closed-form motion, so any frame can be rendered without simulating the ones before it,
and an object keeps its instance id for the whole sequence, whatever hides it meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np

from vkstream.synth.camera import Trajectory


class Shape(IntEnum):
    NONE = 0
    """Analytic surfaces (ground bands, backdrop, sky) that are not ray-cast as primitives."""
    BOX = 1
    ELLIPSOID = 2


class Special(IntEnum):
    """Surfaces with fixed rows at the top of the surface table."""

    SKY = 0
    ROAD = 1
    PAINT = 2
    SIDEWALK = 3
    TERRAIN = 4
    BACKDROP = 5


N_SPECIAL = len(Special)


@dataclass
class Scene:
    """Flat tables that the ray caster and shader index with a surface id per pixel."""

    # Surfaces (one per primitive plus the special rows).
    semantic: np.ndarray  # (S,) uint8
    instance: np.ndarray  # (S,) uint16
    colour_a: np.ndarray  # (S, 3) float32, linear 0..1
    colour_b: np.ndarray  # (S, 3) float32
    texture: np.ndarray  # (S,) int32, index into the texture bank
    tex_scale: np.ndarray  # (S,) float32, texels per metre
    # Primitives: surface s >= N_SPECIAL is primitive s - N_SPECIAL.
    shape: np.ndarray  # (P,) uint8 Shape
    offset: np.ndarray  # (P, 3) float32: world centre (static) or offset from its agent
    half: np.ndarray  # (P, 3) float32: half extents (box) or radii (ellipsoid)
    agent: np.ndarray  # (P,) int32, -1 = static
    swing: np.ndarray  # (P,) float32, stride amplitude along z (legs and arms)
    swing_phase: np.ndarray  # (P,) float32
    # Agents: position (x, 0, z0 + v t).
    agent_x: np.ndarray
    agent_z0: np.ndarray
    agent_speed: np.ndarray
    agent_stride_hz: np.ndarray
    # Ground bands along x and lane paint.
    band_edges: np.ndarray  # sorted x edges
    band_surface: np.ndarray  # surface id of each of len(edges) + 1 bands
    paint_lines: np.ndarray  # (L, 3): x centre, half width, dash duty (1 = solid)
    paint_period: float
    # Far backdrop and light.
    backdrop_distance: float
    backdrop_x0: float
    backdrop_heights: np.ndarray  # silhouette height per metre of x starting at backdrop_x0
    sun: np.ndarray  # unit vector towards the sun
    sun_colour: np.ndarray
    ambient: float
    exposure: float
    haze_distance: float
    sky_horizon: np.ndarray
    sky_zenith: np.ndarray
    noise_std: float
    trajectory: Trajectory
    tracked: dict[int, int] = field(default_factory=dict)
    """Instance id -> train id of every tracked object in the sequence."""

    @property
    def num_primitives(self) -> int:
        return len(self.shape)

    def primitive_boxes(self, t: float) -> tuple[np.ndarray, np.ndarray]:
        """World-space centres and half extents of every primitive at time t."""
        centre = self.offset.copy()
        moving = self.agent >= 0
        idx = self.agent[moving]
        agent_z = self.agent_z0[idx] + self.agent_speed[idx] * t
        stride = np.sin(2 * np.pi * self.agent_stride_hz[idx] * t + self.swing_phase[moving])
        centre[moving, 0] += self.agent_x[idx]
        centre[moving, 2] += agent_z + self.swing[moving] * stride
        return centre, self.half

    def anchors(self, centre: np.ndarray) -> np.ndarray:
        """Texture anchor of every surface: the primitive's centre, the world origin for the rest."""
        anchor = np.zeros((len(self.semantic), 3), np.float32)
        anchor[N_SPECIAL:] = centre
        return anchor
