"""The 3D content of one sequence: road layout, scenery, traffic and pedestrians.

Everything is built once per sequence from the sequence's generator as flat tables of
surfaces (what a pixel can show: class, instance, material) and primitives (axis-aligned
boxes and ellipsoids that the ray caster intersects). Moving objects are agents with
closed-form motion, so any frame can be rendered without simulating the ones before it,
and an object keeps its instance id for the whole sequence, whatever hides it meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np

from vkstream.data.classes import TrainId
from vkstream.synth.camera import Trajectory
from vkstream.synth.config import SynthConfig
from vkstream.synth.textures import TILE, Tex


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


def _rgb(hex_colour: str) -> tuple[float, float, float]:
    return tuple(int(hex_colour[i : i + 2], 16) / 255.0 for i in (0, 2, 4))  # type: ignore[return-value]


_CAR_PAINTS = [
    _rgb(c)
    for c in (
        "f2f2f0",
        "c8cacc",
        "8d9196",
        "2a2b2e",
        "121314",
        "9e1b1b",
        "1d3f7a",
        "2f5d3a",
        "c9b48a",
        "5a3a22",
        "d7d24a",
        "4f6f8f",
    )
]
_FACADES = [
    _rgb(c)
    for c in (
        "d9cbb0",
        "bfb6a8",
        "a35a45",
        "8c8f94",
        "e8e2d0",
        "c79b6d",
        "9aa39a",
        "7b6a5c",
        "d8d0c0",
        "b2836b",
    )
]
_CLOTHES = [
    _rgb(c)
    for c in (
        "1f2a44",
        "3b3b3b",
        "7a1f1f",
        "d9d9d9",
        "2e5e3a",
        "a67c52",
        "101010",
        "5a6e8c",
        "c4a35a",
        "6b2f5b",
    )
]
_SKIN = [_rgb(c) for c in ("f1c27d", "e0ac69", "c68642", "8d5524", "ffdbac", "5c3a21")]


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


class _Builder:
    """Collects surfaces, primitives and agents while the world is laid out."""

    def __init__(self) -> None:
        self.surfaces: list[tuple[int, int, tuple, tuple, int, float]] = []
        self.prims: list[tuple[int, tuple, tuple, int, float, float]] = []
        self.agent_rows: list[tuple[float, float, float, float]] = []
        self.next_instance = 1
        self.tracked: dict[int, int] = {}

    def special(self, semantic: int, col_a, col_b, tex: Tex, scale: float) -> None:
        self.surfaces.append((semantic, 0, tuple(col_a), tuple(col_b), int(tex), scale))

    def new_instance(self, semantic: int) -> int:
        instance = self.next_instance
        self.next_instance += 1
        self.tracked[instance] = semantic
        return instance

    def add(
        self,
        shape: Shape,
        centre,
        size,
        semantic: int,
        col_a,
        col_b,
        tex: Tex,
        scale: float,
        instance: int = 0,
        agent: int = -1,
        swing: float = 0.0,
        phase: float = 0.0,
    ) -> None:
        """Add a primitive; `size` is the full extent (box) or diameters (ellipsoid)."""
        self.surfaces.append((semantic, instance, tuple(col_a), tuple(col_b), int(tex), scale))
        half = tuple(0.5 * float(s) for s in size)
        self.prims.append((int(shape), tuple(float(c) for c in centre), half, agent, swing, phase))

    def agent(self, x: float, z0: float, speed: float, stride_hz: float = 0.0) -> int:
        self.agent_rows.append((x, z0, speed, stride_hz))
        return len(self.agent_rows) - 1


def _jitter(rng: np.random.Generator, colour, amount: float = 0.08) -> np.ndarray:
    gain = rng.uniform(1 - amount, 1 + amount)
    return np.clip(np.asarray(colour) * gain + rng.normal(0, amount / 3, 3), 0.0, 1.0)


def _pick(rng: np.random.Generator, palette: list) -> np.ndarray:
    return np.asarray(palette[int(rng.integers(len(palette)))])


@dataclass(frozen=True)
class _Road:
    lanes: int
    lane_width: float
    edge: dict[int, float]  # side -> |x| of the kerb (road incl. parking)
    parking: dict[int, bool]
    sidewalk_out: dict[int, float]  # side -> |x| of the sidewalk's outer edge
    verge_out: dict[int, float]  # side -> |x| where buildings and fences may start


def _layout_road(rng: np.random.Generator, cfg: SynthConfig) -> _Road:
    lanes = int(rng.integers(cfg.road.lanes_per_direction[0], cfg.road.lanes_per_direction[1] + 1))
    half = lanes * cfg.road.lane_width_m
    edge, parking, sidewalk, verge = {}, {}, {}, {}
    for side in (-1, 1):
        parking[side] = bool(rng.random() < cfg.road.parking_prob)
        edge[side] = half + (2.3 if parking[side] else 0.3)
        sidewalk[side] = edge[side] + float(rng.uniform(*cfg.road.sidewalk_width_m))
        verge[side] = sidewalk[side] + float(rng.uniform(*cfg.road.verge_width_m))
    return _Road(lanes, cfg.road.lane_width_m, edge, parking, sidewalk, verge)


def _ground(b: _Builder, rng: np.random.Generator, road: _Road) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    asphalt = _jitter(rng, _rgb("55575a"), 0.12)
    b.special(TrainId.ROAD, asphalt * 0.85, asphalt * 1.15, Tex.NOISE_FINE, 90.0)
    b.special(TrainId.ROAD, _jitter(rng, _rgb("d8d8d2"), 0.05), _rgb("f4f4ee"), Tex.NOISE_FINE, 90.0)
    slab = _jitter(rng, _rgb("a29e98"), 0.12)
    b.special(TrainId.SIDEWALK, slab * 0.55, slab, Tex.PAVING, float(rng.uniform(70, 110)))
    grass = _jitter(rng, _rgb(["4f6b2e", "6b7a3a", "5d6e3b", "7d7448"][int(rng.integers(4))]), 0.1)
    b.special(TrainId.TERRAIN, grass * 0.7, grass * 1.2, Tex.NOISE_COARSE, float(rng.uniform(15, 40)))
    edges = np.array([-road.sidewalk_out[-1], -road.edge[-1], road.edge[1], road.sidewalk_out[1]], np.float32)
    bands = np.array(
        [Special.TERRAIN, Special.SIDEWALK, Special.ROAD, Special.SIDEWALK, Special.TERRAIN], np.int32
    )
    half = road.lanes * road.lane_width
    lines = [(0.0, 0.07, 1.0 if road.lanes > 1 or rng.random() < 0.4 else 0.35)]
    for k in range(1, road.lanes):
        lines += [(s * k * road.lane_width, 0.06, 0.3) for s in (-1, 1)]
    lines += [(s * (half - 0.15), 0.08, 1.0) for s in (-1, 1)]
    return edges, bands, np.array(lines, np.float32)


def _tree(b: _Builder, rng: np.random.Generator, x: float, z: float, scale: float = 1.0) -> None:
    bark = _jitter(rng, _rgb("4a3b2b"), 0.15)
    leaf = _jitter(rng, _rgb(["2f4f1f", "3d5e27", "4d6b2c", "2a4030"][int(rng.integers(4))]), 0.12)
    trunk_h = float(rng.uniform(1.8, 3.2)) * scale
    width = float(rng.uniform(0.22, 0.4)) * scale
    b.add(
        Shape.BOX,
        (x, trunk_h / 2, z),
        (width, trunk_h, width),
        TrainId.VEGETATION,
        bark * 0.7,
        bark,
        Tex.NOISE_FINE,
        60.0,
    )
    radii = np.array([rng.uniform(1.2, 2.8), rng.uniform(1.4, 3.2), rng.uniform(1.2, 2.8)]) * scale
    b.add(
        Shape.ELLIPSOID,
        (x, trunk_h + radii[1] * 0.75, z),
        2 * radii,
        TrainId.VEGETATION,
        leaf * 0.55,
        leaf * 1.3,
        Tex.LEAVES,
        float(rng.uniform(40, 80)),
    )


def _pole(b: _Builder, rng: np.random.Generator, cfg: SynthConfig, side: int, x: float, z: float) -> None:
    metal = _jitter(rng, _rgb("7d8085"), 0.15)
    height = float(rng.uniform(4.0, 8.0))
    b.add(
        Shape.BOX,
        (x, height / 2, z),
        (0.14, height, 0.14),
        TrainId.POLE,
        metal * 0.8,
        metal,
        Tex.NOISE_FINE,
        50.0,
    )
    roll = rng.random()
    if roll < cfg.scenery.traffic_light_prob:
        arm = float(rng.uniform(1.0, 3.0))
        arm_x = x - side * arm / 2
        b.add(
            Shape.BOX,
            (arm_x, height - 0.3, z),
            (arm, 0.12, 0.12),
            TrainId.POLE,
            metal * 0.8,
            metal,
            Tex.NOISE_FINE,
            50.0,
        )
        lamp = _rgb(["ff3b2f", "ffb000", "3bff6a"][int(rng.integers(3))])
        b.add(
            Shape.BOX,
            (x - side * arm, height - 0.9, z - 0.1),
            (0.35, 1.0, 0.3),
            TrainId.TRAFFIC_LIGHT,
            _rgb("1c1c1c"),
            lamp,
            Tex.SIGNAL,
            TILE / 1.05,
        )
    elif roll < cfg.scenery.traffic_light_prob + cfg.scenery.sign_prob:
        face = _rgb(["c81e1e", "1f4fa8", "f0c419"][int(rng.integers(3))])
        size = float(rng.uniform(0.55, 0.8))
        b.add(
            Shape.BOX,
            (x - side * 0.05, float(rng.uniform(2.1, min(3.0, height - 0.4))), z - 0.1),
            (size, size, 0.04),
            TrainId.TRAFFIC_SIGN,
            _rgb("eeeeee"),
            face,
            Tex.SIGN,
            TILE / (size * 1.15),
        )


def _building(
    b: _Builder,
    rng: np.random.Generator,
    cfg: SynthConfig,
    side: int,
    x_front: float,
    z0: float,
    length: float,
    height_range,
) -> None:
    facade = _jitter(rng, _pick(rng, _FACADES), 0.12)
    glass = _jitter(rng, _rgb(["2b3540", "3c4a57", "1f262e", "5a6b78"][int(rng.integers(4))]), 0.1)
    height = float(rng.uniform(*height_range))
    depth = float(rng.uniform(8.0, 16.0))
    tex = Tex.WINDOWS if rng.random() < 0.85 else Tex.PANELS
    b.add(
        Shape.BOX,
        (side * (x_front + depth / 2), height / 2, z0 + length / 2),
        (depth, height, length),
        TrainId.BUILDING,
        facade,
        glass if tex == Tex.WINDOWS else facade * 0.8,
        tex,
        float(rng.uniform(34, 46)),
    )


def _scenery_side(
    b: _Builder,
    rng: np.random.Generator,
    cfg: SynthConfig,
    road: _Road,
    side: int,
    z_start: float,
    z_end: float,
) -> None:
    sc = cfg.scenery
    weights = np.array([sc.urban_weight, sc.suburban_weight, sc.rural_weight], float)
    weights = weights / weights.sum() if weights.sum() > 0 else np.array([1.0, 0.0, 0.0])
    x_front = road.verge_out[side]
    z = z_start
    while z < z_end:
        zone_end = z + float(rng.uniform(*sc.zone_length_m))
        kind = int(rng.choice(3, p=weights))
        if kind == 0:  # a row of buildings, a few gaps
            zb = z
            while zb < zone_end:
                length = float(rng.uniform(*sc.building_length_m))
                _building(
                    b, rng, cfg, side, x_front + float(rng.uniform(0, 1.0)), zb, length, sc.building_height_m
                )
                zb += length + (float(rng.uniform(1.0, 6.0)) if rng.random() < 0.3 else 0.0)
            zone_end = zb
        elif kind == 1:  # fence, hedge or low wall along the plot line, small houses and trees behind
            barrier = int(rng.choice(3, p=[0.45, 0.3, 0.25]) if rng.random() > sc.wall_prob else 2)
            x_line = side * (x_front + 0.3)
            length = zone_end - z
            if barrier == 0:
                wood = _jitter(rng, _rgb(["8a6a48", "6e6e6e", "3f4a3a", "b9b2a3"][int(rng.integers(4))]), 0.1)
                h = float(rng.uniform(1.0, 2.0))
                b.add(
                    Shape.BOX,
                    (x_line, h / 2, z + length / 2),
                    (0.06, h, length),
                    TrainId.FENCE,
                    wood,
                    wood * 0.35,
                    Tex.SLATS,
                    float(rng.uniform(80, 140)),
                )
            elif barrier == 1:
                leaf = _jitter(rng, _rgb("3a5a2a"), 0.15)
                h = float(rng.uniform(1.0, 2.2))
                b.add(
                    Shape.BOX,
                    (x_line, h / 2, z + length / 2),
                    (float(rng.uniform(0.6, 1.2)), h, length),
                    TrainId.VEGETATION,
                    leaf * 0.6,
                    leaf * 1.3,
                    Tex.LEAVES,
                    float(rng.uniform(50, 90)),
                )
            else:
                stone = _jitter(rng, _rgb(["9a958c", "b5ab9a", "6f6a62"][int(rng.integers(3))]), 0.1)
                h = float(rng.uniform(0.6, 1.6))
                b.add(
                    Shape.BOX,
                    (x_line, h / 2, z + length / 2),
                    (0.3, h, length),
                    TrainId.WALL,
                    stone * 0.8,
                    stone,
                    Tex.PANELS,
                    float(rng.uniform(25, 45)),
                )
            zh = z + float(rng.uniform(0, 6))
            while zh < zone_end - 6:
                length = float(rng.uniform(8, 14))
                _building(b, rng, cfg, side, x_front + float(rng.uniform(4, 10)), zh, length, (4.5, 9.0))
                zh += length + float(rng.uniform(4, 12))
            _trees_along(b, rng, cfg, side, x_front + 1.5, x_front + 4.0, z, zone_end)
        else:  # open terrain with scattered trees
            _trees_along(b, rng, cfg, side, x_front + 0.5, x_front + 18.0, z, zone_end)
        z = zone_end
    if road.verge_out[side] - road.sidewalk_out[side] > 1.8:
        _trees_along(
            b, rng, cfg, side, road.sidewalk_out[side] + 0.9, road.verge_out[side] - 0.9, z_start, z_end
        )
    zp = z_start + float(rng.uniform(0, sc.pole_spacing_m[1]))
    while zp < z_end:
        _pole(b, rng, cfg, side, side * (road.edge[side] + 0.45), zp)
        zp += float(rng.uniform(*sc.pole_spacing_m))


def _trees_along(
    b: _Builder,
    rng: np.random.Generator,
    cfg: SynthConfig,
    side: int,
    x_near: float,
    x_far: float,
    z0: float,
    z1: float,
) -> None:
    z = z0 + float(rng.uniform(0, cfg.scenery.tree_spacing_m[1]))
    while z < z1:
        _tree(b, rng, side * float(rng.uniform(x_near, max(x_near, x_far))), z, float(rng.uniform(0.8, 1.25)))
        z += float(rng.uniform(*cfg.scenery.tree_spacing_m))


def _car(b: _Builder, rng: np.random.Generator, agent: int, heading: int) -> None:
    paint = _jitter(rng, _pick(rng, _CAR_PAINTS), 0.06)
    glass = _rgb("1a2026")
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
    tyre = _rgb("151515")
    for axle in (-1, 1):
        b.add(
            Shape.BOX,
            (0, 0.32, axle * (length / 2 - 0.8)),
            (width + 0.04, 0.64, 0.64),
            col_a=tyre,
            col_b=_rgb("3a3a3a"),
            tex=Tex.NOISE_FINE,
            scale=200.0,
            **common,
        )


def _pedestrian(b: _Builder, rng: np.random.Generator, agent: int) -> None:
    instance = b.new_instance(TrainId.PERSON)
    s = float(rng.uniform(1.5, 1.95)) / 1.75
    shirt, trousers = _jitter(rng, _pick(rng, _CLOTHES)), _jitter(rng, _pick(rng, _CLOTHES))
    skin = _jitter(rng, _pick(rng, _SKIN), 0.05)
    common = {"semantic": TrainId.PERSON, "instance": instance, "agent": agent}
    phase = float(rng.uniform(0, 2 * np.pi))
    for side in (-1, 1):
        b.add(
            Shape.BOX,
            (side * 0.1 * s, 0.42 * s, 0),
            (0.15 * s, 0.84 * s, 0.17 * s),
            col_a=trousers * 0.8,
            col_b=trousers,
            tex=Tex.NOISE_FINE,
            scale=150.0,
            swing=0.22 * s,
            phase=phase + (side > 0) * np.pi,
            **common,
        )
        b.add(
            Shape.BOX,
            (side * 0.27 * s, 1.15 * s, 0),
            (0.1 * s, 0.6 * s, 0.12 * s),
            col_a=shirt * 0.8,
            col_b=shirt,
            tex=Tex.NOISE_FINE,
            scale=150.0,
            swing=0.12 * s,
            phase=phase + (side < 0) * np.pi,
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


def _traffic(
    b: _Builder,
    rng: np.random.Generator,
    cfg: SynthConfig,
    road: _Road,
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
            lo = min(z_first - 20 - speed * 0, z_last - 20 - speed * duration)
            hi = max(z_first + z_view - speed * 0, z_last + z_view - speed * duration)
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


def build_scene(rng: np.random.Generator, cfg: SynthConfig, duration: float) -> Scene:
    """Lay out one sequence's world for a camera that drives for `duration` seconds."""
    road = _layout_road(rng, cfg)
    lane = int(rng.integers(road.lanes))
    traj = Trajectory.sample(
        rng,
        (lane + 0.5) * road.lane_width,
        cfg.camera.height_m,
        cfg.camera.speed_mps,
        cfg.camera.lateral_sway_m,
        cfg.camera.wobble_deg,
    )
    b = _Builder()
    sky_b = _jitter(rng, _rgb(["7fa7d6", "9ab8d8", "b8c4d0", "6f98cf"][int(rng.integers(4))]), 0.08)
    b.special(TrainId.SKY, sky_b, sky_b, Tex.CLOUDS, 1.0)
    edges, bands, lines = _ground(b, rng, road)
    urban_backdrop = rng.random() < cfg.scenery.urban_weight * 0.6
    if urban_backdrop:
        grey = _jitter(rng, _rgb("8e949c"), 0.1)
        b.special(TrainId.BUILDING, grey * 0.8, grey * 1.1, Tex.WINDOWS, 12.0)
    else:
        leaf = _jitter(rng, _rgb("3c5237"), 0.1)
        b.special(TrainId.VEGETATION, leaf * 0.7, leaf * 1.2, Tex.LEAVES, 6.0)
    z_view = cfg.scenery.backdrop_distance_m
    z_start, z_end = traj.z(0.0) - 25.0, traj.z(duration) + z_view + 5.0
    for side in (-1, 1):
        _scenery_side(b, rng, cfg, road, side, z_start, z_end)
    _traffic(b, rng, cfg, road, traj, duration, z_view)

    # The far backdrop: a tree line or skyline whose silhouette closes every view at a bounded depth.
    span = 1400
    heights = np.cumsum(rng.normal(0, 0.6 if urban_backdrop else 0.35, span))
    heights = heights - np.convolve(heights, np.ones(201) / 201, mode="same")
    if urban_backdrop:
        blocks = np.repeat(rng.uniform(8, 40, span // 20 + 1), 20)[:span]
        heights = blocks + 0.2 * heights
    else:
        heights = 14 + 2.5 * heights + 3 * np.sin(np.arange(span) / float(rng.uniform(40, 120)))
    heights = np.clip(heights, 4.0, 60.0).astype(np.float32)

    elevation = np.deg2rad(rng.uniform(*cfg.lighting.sun_elevation_deg))
    azimuth = rng.uniform(0, 2 * np.pi)
    sun = np.array(
        [np.cos(elevation) * np.sin(azimuth), np.sin(elevation), np.cos(elevation) * np.cos(azimuth)]
    )
    warmth = rng.uniform(0, 0.15) * (1 - np.sin(elevation))
    surfaces = b.surfaces
    prims = b.prims
    agents = np.array(b.agent_rows, np.float32).reshape(-1, 4)
    return Scene(
        semantic=np.array([s[0] for s in surfaces], np.uint8),
        instance=np.array([s[1] for s in surfaces], np.uint16),
        colour_a=np.array([s[2] for s in surfaces], np.float32),
        colour_b=np.array([s[3] for s in surfaces], np.float32),
        texture=np.array([s[4] for s in surfaces], np.int32),
        tex_scale=np.array([s[5] for s in surfaces], np.float32),
        shape=np.array([p[0] for p in prims], np.uint8),
        offset=np.array([p[1] for p in prims], np.float32).reshape(-1, 3),
        half=np.array([p[2] for p in prims], np.float32).reshape(-1, 3),
        agent=np.array([p[3] for p in prims], np.int32),
        swing=np.array([p[4] for p in prims], np.float32),
        swing_phase=np.array([p[5] for p in prims], np.float32),
        agent_x=agents[:, 0],
        agent_z0=agents[:, 1],
        agent_speed=agents[:, 2],
        agent_stride_hz=agents[:, 3],
        band_edges=edges,
        band_surface=bands,
        paint_lines=lines,
        paint_period=float(rng.uniform(9.0, 15.0)),
        backdrop_distance=z_view,
        backdrop_x0=-span / 2,
        backdrop_heights=heights,
        sun=sun.astype(np.float32),
        sun_colour=np.array([1.0 + warmth, 1.0, 1.0 - warmth], np.float32),
        ambient=float(rng.uniform(*cfg.lighting.ambient)),
        exposure=float(rng.uniform(*cfg.lighting.exposure)),
        haze_distance=float(rng.uniform(*cfg.lighting.haze_distance_m)),
        sky_horizon=(sky_b + (1.0 - sky_b) * 0.35).astype(np.float32),
        sky_zenith=(sky_b * 0.85).astype(np.float32),
        noise_std=cfg.lighting.noise_std,
        trajectory=traj,
        tracked=dict(b.tracked),
    )
