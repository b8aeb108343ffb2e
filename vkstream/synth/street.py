"""The street: road cross-section, ground bands and lane paint, and the scenery along both sides."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vkstream.data.classes import TrainId
from vkstream.synth.builder import FACADES, SceneBuilder, jitter, pick, rgb
from vkstream.synth.config import SynthConfig
from vkstream.synth.scene import Shape, Special
from vkstream.synth.textures import TILE, Tex


@dataclass(frozen=True)
class Road:
    lanes: int
    lane_width: float
    edge: dict[int, float]  # side -> |x| of the kerb (road incl. parking)
    parking: dict[int, bool]
    sidewalk_out: dict[int, float]  # side -> |x| of the sidewalk's outer edge
    verge_out: dict[int, float]  # side -> |x| where buildings and fences may start


def layout_road(rng: np.random.Generator, cfg: SynthConfig) -> Road:
    lanes = int(rng.integers(cfg.road.lanes_per_direction[0], cfg.road.lanes_per_direction[1] + 1))
    half = lanes * cfg.road.lane_width_m
    edge, parking, sidewalk, verge = {}, {}, {}, {}
    for side in (-1, 1):
        parking[side] = bool(rng.random() < cfg.road.parking_prob)
        edge[side] = half + (2.3 if parking[side] else 0.3)
        sidewalk[side] = edge[side] + float(rng.uniform(*cfg.road.sidewalk_width_m))
        verge[side] = sidewalk[side] + float(rng.uniform(*cfg.road.verge_width_m))
    return Road(lanes, cfg.road.lane_width_m, edge, parking, sidewalk, verge)


def ground_bands(
    b: SceneBuilder, rng: np.random.Generator, road: Road
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    asphalt = jitter(rng, rgb("55575a"), 0.12)
    b.special(TrainId.ROAD, asphalt * 0.85, asphalt * 1.15, Tex.NOISE_FINE, 90.0)
    b.special(TrainId.ROAD, jitter(rng, rgb("d8d8d2"), 0.05), rgb("f4f4ee"), Tex.NOISE_FINE, 90.0)
    slab = jitter(rng, rgb("a29e98"), 0.12)
    b.special(TrainId.SIDEWALK, slab * 0.55, slab, Tex.PAVING, float(rng.uniform(70, 110)))
    grass = jitter(rng, rgb(["4f6b2e", "6b7a3a", "5d6e3b", "7d7448"][int(rng.integers(4))]), 0.1)
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


def _tree(b: SceneBuilder, rng: np.random.Generator, x: float, z: float, scale: float = 1.0) -> None:
    bark = jitter(rng, rgb("4a3b2b"), 0.15)
    leaf = jitter(rng, rgb(["2f4f1f", "3d5e27", "4d6b2c", "2a4030"][int(rng.integers(4))]), 0.12)
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


def _pole(b: SceneBuilder, rng: np.random.Generator, cfg: SynthConfig, side: int, x: float, z: float) -> None:
    metal = jitter(rng, rgb("7d8085"), 0.15)
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
        lamp = rgb(["ff3b2f", "ffb000", "3bff6a"][int(rng.integers(3))])
        b.add(
            Shape.BOX,
            (x - side * arm, height - 0.9, z - 0.1),
            (0.35, 1.0, 0.3),
            TrainId.TRAFFIC_LIGHT,
            rgb("1c1c1c"),
            lamp,
            Tex.SIGNAL,
            TILE / 1.05,
        )
    elif roll < cfg.scenery.traffic_light_prob + cfg.scenery.sign_prob:
        face = rgb(["c81e1e", "1f4fa8", "f0c419"][int(rng.integers(3))])
        size = float(rng.uniform(0.55, 0.8))
        b.add(
            Shape.BOX,
            (x - side * 0.05, float(rng.uniform(2.1, min(3.0, height - 0.4))), z - 0.1),
            (size, size, 0.04),
            TrainId.TRAFFIC_SIGN,
            rgb("eeeeee"),
            face,
            Tex.SIGN,
            TILE / (size * 1.15),
        )


def _building(
    b: SceneBuilder,
    rng: np.random.Generator,
    cfg: SynthConfig,
    side: int,
    x_front: float,
    z0: float,
    length: float,
    height_range,
) -> None:
    facade = jitter(rng, pick(rng, FACADES), 0.12)
    glass = jitter(rng, rgb(["2b3540", "3c4a57", "1f262e", "5a6b78"][int(rng.integers(4))]), 0.1)
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


def scenery_side(
    b: SceneBuilder,
    rng: np.random.Generator,
    cfg: SynthConfig,
    road: Road,
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
                wood = jitter(rng, rgb(["8a6a48", "6e6e6e", "3f4a3a", "b9b2a3"][int(rng.integers(4))]), 0.1)
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
                leaf = jitter(rng, rgb("3a5a2a"), 0.15)
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
                stone = jitter(rng, rgb(["9a958c", "b5ab9a", "6f6a62"][int(rng.integers(3))]), 0.1)
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
    b: SceneBuilder,
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
