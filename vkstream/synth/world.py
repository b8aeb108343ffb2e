"""Lay out one sequence's world: street, scenery, traffic, the far backdrop, sky and light.

Everything is drawn once per sequence from the sequence's generator, so a sequence is a pure
function of (seed, sequence index, config, duration).
"""

from __future__ import annotations

import numpy as np

from vkstream.data.classes import TrainId
from vkstream.synth.builder import SceneBuilder, jitter, rgb
from vkstream.synth.camera import Trajectory
from vkstream.synth.config import SynthConfig
from vkstream.synth.scene import Scene
from vkstream.synth.street import ground_bands, layout_road, scenery_side
from vkstream.synth.textures import Tex
from vkstream.synth.traffic import add_traffic


def build_scene(rng: np.random.Generator, cfg: SynthConfig, duration: float) -> Scene:
    """Lay out one sequence's world for a camera that drives for `duration` seconds."""
    road = layout_road(rng, cfg)
    lane = int(rng.integers(road.lanes))
    traj = Trajectory.sample(
        rng,
        (lane + 0.5) * road.lane_width,
        cfg.camera.height_m,
        cfg.camera.speed_mps,
        cfg.camera.lateral_sway_m,
        cfg.camera.wobble_deg,
    )
    b = SceneBuilder()
    sky_b = jitter(rng, rgb(["7fa7d6", "9ab8d8", "b8c4d0", "6f98cf"][int(rng.integers(4))]), 0.08)
    b.special(TrainId.SKY, sky_b, sky_b, Tex.CLOUDS, 1.0)
    edges, bands, lines = ground_bands(b, rng, road)
    urban_backdrop = rng.random() < cfg.scenery.urban_weight * 0.6
    if urban_backdrop:
        grey = jitter(rng, rgb("8e949c"), 0.1)
        b.special(TrainId.BUILDING, grey * 0.8, grey * 1.1, Tex.WINDOWS, 12.0)
    else:
        leaf = jitter(rng, rgb("3c5237"), 0.1)
        b.special(TrainId.VEGETATION, leaf * 0.7, leaf * 1.2, Tex.LEAVES, 6.0)
    z_view = cfg.scenery.backdrop_distance_m
    z_start, z_end = traj.z(0.0) - 25.0, traj.z(duration) + z_view + 5.0
    for side in (-1, 1):
        scenery_side(b, rng, cfg, road, side, z_start, z_end)
    add_traffic(b, rng, cfg, road, traj, duration, z_view)

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
