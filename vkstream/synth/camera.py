"""The ego camera: KITTI-like intrinsics and a smooth forward trajectory in a lane.

World frame: x to the right of the road, y up, z along the road; the road surface is y = 0.
Camera frame: x right, y down, z forward (OpenCV). Rays are kept with unit z in the camera
frame, so the ray parameter of a hit is its z-depth, which is what KITTI depth maps store.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vkstream.data.frame import Intrinsics

_CAMERA_TO_WORLD_AXES = np.diag([1.0, -1.0, 1.0])


def kitti_like_intrinsics(width: int, height: int, focal_at_1242: float) -> Intrinsics:
    """Keep KITTI's horizontal field of view at any width; principal point at the image centre."""
    focal = focal_at_1242 * width / 1242.0
    return Intrinsics(fx=focal, fy=focal, cx=width / 2.0, cy=height / 2.0)


def camera_rays(intrinsics: Intrinsics, width: int, height: int) -> np.ndarray:
    """(H, W, 3) float32 ray directions in the camera frame, z = 1."""
    u = (np.arange(width, dtype=np.float32) - intrinsics.cx) / intrinsics.fx
    v = (np.arange(height, dtype=np.float32) - intrinsics.cy) / intrinsics.fy
    rays = np.empty((height, width, 3), np.float32)
    rays[..., 0] = u[None, :]
    rays[..., 1] = v[:, None]
    rays[..., 2] = 1.0
    return rays


@dataclass(frozen=True)
class Pose:
    origin: np.ndarray
    """Camera centre in world coordinates, (3,)."""
    rotation: np.ndarray
    """World-from-camera rotation, (3, 3)."""


@dataclass(frozen=True)
class Trajectory:
    """Speed varies gently, the car sways within its lane, and the camera yaws and pitches a little."""

    lane_x: float
    height: float
    speed: float
    speed_wave: float
    sway: float
    wobble_rad: float
    phases: tuple[float, float, float, float]

    @classmethod
    def sample(
        cls,
        rng: np.random.Generator,
        lane_x: float,
        height: float,
        speed_range: tuple[float, float],
        sway: float,
        wobble_deg: float,
    ) -> Trajectory:
        speed = float(rng.uniform(*speed_range))
        return cls(
            lane_x=lane_x,
            height=height,
            speed=speed,
            speed_wave=float(rng.uniform(0.0, 0.15)) * speed,
            sway=float(rng.uniform(0.3, 1.0)) * sway,
            wobble_rad=float(np.deg2rad(wobble_deg)),
            phases=tuple(float(p) for p in rng.uniform(0, 2 * np.pi, 4)),
        )

    def z(self, t: float) -> float:
        omega = 0.4
        return self.speed * t + self.speed_wave / omega * (
            np.cos(self.phases[0]) - np.cos(omega * t + self.phases[0])
        )

    def pose(self, t: float) -> Pose:
        _, p1, p2, p3 = self.phases
        x = self.lane_x + self.sway * np.sin(0.25 * t + p1)
        heading = self.sway * 0.25 * np.cos(0.25 * t + p1) / max(self.speed, 0.5)
        yaw = heading + self.wobble_rad * np.sin(0.7 * t + p2)
        pitch = 0.4 * self.wobble_rad * np.sin(1.9 * t + p3)
        cy, sy = np.cos(yaw), np.sin(yaw)
        cp, sp = np.cos(pitch), np.sin(pitch)
        # Positive yaw turns the view to the right (towards +x); positive pitch looks up.
        yaw_m = np.array([[cy, 0.0, sy], [0.0, 1.0, 0.0], [-sy, 0.0, cy]])
        pitch_m = np.array([[1.0, 0.0, 0.0], [0.0, cp, sp], [0.0, -sp, cp]])
        rotation = yaw_m @ pitch_m @ _CAMERA_TO_WORLD_AXES
        return Pose(origin=np.array([x, self.height, self.z(t)]), rotation=rotation)
