"""Traffic: cars in every lane and parked at the kerb, pedestrians on the sidewalks."""

from __future__ import annotations

import numpy as np

from vkstream.data.classes import TrainId
from vkstream.synth.builder import CAR_PAINTS, CLOTHES, SKIN, SceneBuilder, jitter, pick, rgb
from vkstream.synth.camera import Trajectory
from vkstream.synth.config import SynthConfig
from vkstream.synth.scene import Shape
from vkstream.synth.street import Road
from vkstream.synth.textures import TILE, Tex


def _car(b: SceneBuilder, rng: np.random.Generator, agent: int, heading: int) -> None:
    paint = jitter(rng, pick(rng, CAR_PAINTS), 0.06)
    glass = rgb("1a2026")
    instance = b.new_instance(TrainId.CAR)
    length, width = float(rng.uniform(3.7, 4.9)), float(rng.uniform(1.65, 1.9))
    van = rng.random() < 0.12
    body_h = float(rng.uniform(0.65, 0.8)) + (0.6 if van else 0.0)
    clearance = 0.3
    cabin_h = float(rng.uniform(0.45, 0.6))
    cabin_len = length * (0.75 if van else float(rng.uniform(0.45, 0.6)))
    common = {"semantic": TrainId.CAR, "instance": instance, "agent": agent}
    b.add(
        Shape.BOX,
        (0, clearance + body_h / 2, 0),
        (width, body_h, length),
        col_a=paint * 0.85,
        col_b=paint,
        tex=Tex.NOISE_FINE,
        scale=120.0,
        **common,
    )
    b.add(
        Shape.BOX,
        (0, clearance + body_h + cabin_h / 2, -heading * (length - cabin_len) * 0.25),
        (width * 0.86, cabin_h, cabin_len),
        col_a=paint,
        col_b=glass,
        tex=Tex.CABIN,
        scale=TILE / 2.4,
        **common,
    )
    tyre = rgb("151515")
    for axle in (-1, 1):
        b.add(
            Shape.BOX,
            (0, 0.32, axle * (length / 2 - 0.8)),
            (width + 0.04, 0.64, 0.64),
            col_a=tyre,
            col_b=rgb("3a3a3a"),
            tex=Tex.NOISE_FINE,
            scale=200.0,
            **common,
        )


def _pedestrian(b: SceneBuilder, rng: np.random.Generator, agent: int) -> None:
    instance = b.new_instance(TrainId.PERSON)
    s = float(rng.uniform(1.5, 1.95)) / 1.75
    shirt, trousers = jitter(rng, pick(rng, CLOTHES)), jitter(rng, pick(rng, CLOTHES))
    skin = jitter(rng, pick(rng, SKIN), 0.05)
    common = {"semantic": TrainId.PERSON, "instance": instance, "agent": agent}
    phase = float(rng.uniform(0, 2 * np.pi))
    # Legs and arms: x, height of the centre, size, colour, stride, and the side whose limb swings
    # half a stride late; an arm swings against the leg on its own side, as in a walk.
    limbs = (
        (0.1, 0.42, (0.15, 0.84, 0.17), trousers, 0.22, 1),
        (0.27, 1.15, (0.1, 0.6, 0.12), shirt, 0.12, -1),
    )
    for side in (-1, 1):
        for x, y, size, colour, swing, late_side in limbs:
            b.add(
                Shape.BOX,
                (side * x * s, y * s, 0),
                tuple(d * s for d in size),
                col_a=colour * 0.8,
                col_b=colour,
                tex=Tex.NOISE_FINE,
                scale=150.0,
                swing=swing * s,
                phase=phase + (side == late_side) * np.pi,
                **common,
            )
    b.add(
        Shape.BOX,
        (0, 1.15 * s, 0),
        (0.42 * s, 0.62 * s, 0.26 * s),
        col_a=shirt * 0.8,
        col_b=shirt,
        tex=Tex.NOISE_FINE,
        scale=150.0,
        **common,
    )
    b.add(
        Shape.ELLIPSOID,
        (0, 1.6 * s, 0),
        (0.2 * s, 0.25 * s, 0.22 * s),
        col_a=skin * 0.85,
        col_b=skin,
        tex=Tex.NOISE_FINE,
        scale=200.0,
        **common,
    )


def add_traffic(
    b: SceneBuilder,
    rng: np.random.Generator,
    cfg: SynthConfig,
    road: Road,
    traj: Trajectory,
    duration: float,
    z_view: float,
) -> None:
    tc = cfg.traffic
    z_first, z_last = traj.z(0.0), traj.z(duration)
    for side in (-1, 1):
        for lane in range(road.lanes):
            x = side * (lane + 0.5) * road.lane_width
            if side > 0:
                speed = traj.speed * float(rng.uniform(*tc.speed_ratio))
                if abs(x - traj.lane_x) < 0.5:  # the ego lane: only cars that pull away ahead of us
                    speed = max(speed, traj.speed + traj.speed_wave + 1.0)
            else:
                speed = -float(rng.uniform(*tc.oncoming_speed_mps))
            # Cars must cover the camera's view window [z_cam - 20, z_cam + z_view] at every time.
            lo = min(z_first - 20, z_last - 20 - speed * duration)
            hi = max(z_first + z_view, z_last + z_view - speed * duration)
            if abs(x - traj.lane_x) < 0.5:
                lo = max(lo, z_first + 12.0)
            z = lo + float(rng.uniform(0, tc.car_gap_m[1]))
            while z < hi:
                _car(b, rng, b.agent(x, z, speed), 1 if speed >= 0 else -1)
                z += 5.0 + float(rng.uniform(*tc.car_gap_m))
        if road.parking[side]:
            z = z_first - 20 + float(rng.uniform(0, 10))
            while z < z_last + z_view:
                if rng.random() < 0.8:
                    _car(b, rng, b.agent(side * (road.edge[side] - 1.2), z, 0.0), int(side))
                z += 5.0 + float(rng.uniform(*tc.parked_gap_m))
        # Pedestrians on the sidewalk, walking either way or standing.
        length = z_last + z_view - z_first + 40
        count = int(rng.poisson(tc.pedestrians_per_100m * length / 100.0))
        inner, outer = road.edge[side] + 0.5, road.sidewalk_out[side] - 0.4
        for _ in range(count):
            standing = rng.random() < tc.standing_prob
            speed = 0.0 if standing else float(rng.uniform(*tc.walk_speed_mps)) * float(rng.choice([-1, 1]))
            z0 = z_first - 20 + float(rng.uniform(0, length)) - speed * duration * float(rng.random())
            x = side * float(rng.uniform(inner, max(inner, outer)))
            _pedestrian(b, rng, b.agent(x, z0, speed, abs(speed) / 1.5))
