"""Exact per-pixel visibility: one ray per pixel against the ground, the backdrop and primitives.

The result is a G-buffer (z-depth, surface id, face code) from which labels, depth and colour
all follow, so they agree by construction. Primitives are intersected only inside their
projected screen rectangle, which keeps the cost proportional to what is visible; the pixel
loops are compiled with numba (cached on disk after the first run).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from vkstream.data.frame import Intrinsics
from vkstream.synth.camera import Pose
from vkstream.synth.scene import Scene, Shape, Special

NEAR = 0.3
"""Nearest depth rendered, in metres."""

FACE_ELLIPSOID = 6
"""Face codes 0-5 are box faces (axis * 2 + 1 when the ray runs along +axis); 6 is a curved surface."""

_SKY, _ROAD, _PAINT, _BACKDROP = (
    int(Special.SKY),
    int(Special.ROAD),
    int(Special.PAINT),
    int(Special.BACKDROP),
)
_BOX = int(Shape.BOX)
_FIRST_PRIMITIVE = len(Special)

# The 8 corners of a unit box and its 12 edges (corner index pairs), for near-plane clipping.
_CORNERS = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], np.float32)
_EDGES = np.array(
    [(a, b) for a in range(8) for b in range(a + 1, 8) if np.sum(_CORNERS[a] != _CORNERS[b]) == 1]
)


@dataclass
class GBuffer:
    depth: np.ndarray
    """(H, W) float32 z-depth; inf where nothing was hit (sky)."""
    surface: np.ndarray
    """(H, W) int32 surface id."""
    face: np.ndarray
    """(H, W) uint8 face code."""
    directions: np.ndarray
    """(H, W, 3) float32 world-space ray directions (unit camera z)."""
    shadow: np.ndarray
    """(H, W) uint8: 1 where a primitive blocks the sun."""


def screen_rects(
    centre: np.ndarray, half: np.ndarray, pose: Pose, intr: Intrinsics, width: int, height: int
) -> tuple[np.ndarray, np.ndarray]:
    """Pixel rectangles [c0, r0, c1, r1) covering each box's part in front of the near plane.

    Returns the rectangles and a mask of the boxes that are visible at all.
    """
    corners = centre[:, None, :] + half[:, None, :] * _CORNERS[None]  # (N, 8, 3)
    cam = (corners - pose.origin.astype(np.float32)) @ pose.rotation.astype(np.float32)
    a, b = cam[:, _EDGES[:, 0]], cam[:, _EDGES[:, 1]]
    za, zb = a[..., 2], b[..., 2]
    crossing = (za - NEAR) * (zb - NEAR) < 0
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(crossing, (NEAR - za) / (zb - za), 0.0)
    clipped = a + s[..., None] * (b - a)
    points = np.concatenate([cam, clipped], axis=1)
    valid = np.concatenate([cam[..., 2] >= NEAR, crossing], axis=1)
    z = np.where(valid, points[..., 2], 1.0)
    u = intr.fx * points[..., 0] / z + intr.cx
    v = intr.fy * points[..., 1] / z + intr.cy
    big = np.float32(1e9)
    u0 = np.where(valid, u, big).min(1)
    u1 = np.where(valid, u, -big).max(1)
    v0 = np.where(valid, v, big).min(1)
    v1 = np.where(valid, v, -big).max(1)
    rects = np.stack(
        [
            np.clip(np.floor(u0) - 1, 0, width),
            np.clip(np.floor(v0) - 1, 0, height),
            np.clip(np.ceil(u1) + 2, 0, width),
            np.clip(np.ceil(v1) + 2, 0, height),
        ],
        axis=1,
    ).astype(np.int64)
    visible = valid.any(1) & (rects[:, 2] > rects[:, 0]) & (rects[:, 3] > rects[:, 1])
    return rects, visible


def cast(scene: Scene, centre: np.ndarray, pose: Pose, rays: np.ndarray, intr: Intrinsics) -> GBuffer:
    """Trace every pixel of one frame; `centre` are the primitives' world centres at this time."""
    height, width = rays.shape[:2]
    origin = pose.origin.astype(np.float32)
    half = scene.half
    z_cam = float(origin[2])
    near = (centre[:, 2] + half[:, 2] > z_cam - 30.0) & (
        centre[:, 2] - half[:, 2] < z_cam + scene.backdrop_distance
    )
    candidates = np.flatnonzero(near)
    rects, visible = screen_rects(centre[candidates], half[candidates], pose, intr, width, height)
    prims = candidates[visible]
    gbuf = GBuffer(
        depth=np.empty((height, width), np.float32),
        surface=np.empty((height, width), np.int32),
        face=np.empty((height, width), np.uint8),
        directions=np.empty((height, width, 3), np.float32),
        shadow=np.zeros((height, width), np.uint8),
    )
    _cast_kernel(
        rays, pose.rotation.astype(np.float32), origin,
        scene.band_edges, scene.band_surface, scene.paint_lines, np.float32(scene.paint_period),
        np.float32(scene.backdrop_distance), np.float32(scene.backdrop_x0), scene.backdrop_heights,
        prims, rects[visible], scene.shape, (centre - origin).astype(np.float32), half,
        gbuf.depth, gbuf.surface, gbuf.face, gbuf.directions,
    )  # fmt: skip
    _cast_shadows(scene, centre, candidates, pose, intr, gbuf)
    return gbuf


def _cast_shadows(
    scene: Scene, centre: np.ndarray, candidates: np.ndarray, pose: Pose, intr: Intrinsics, gbuf: GBuffer
) -> None:
    """Mark visible points whose path to the sun a primitive blocks.

    A primitive's shadow on anything at or above the road lies inside the bounding box of the
    primitive and its projection onto the road along the sun, so only that box's screen
    rectangle is tested.
    """
    height, width = gbuf.depth.shape
    sun = scene.sun.astype(np.float32)
    if sun[1] <= 0.05:
        return
    half = scene.half[candidates]
    lo, hi = centre[candidates] - half, centre[candidates] + half
    reach = np.maximum(hi[:, 1], 0.0)[:, None] / sun[1] * sun  # offset of the ground shadow from the top
    shadow_lo = np.minimum(lo, np.minimum(lo - reach, hi - reach))
    shadow_hi = np.maximum(hi, np.maximum(lo - reach, hi - reach))
    shadow_lo[:, 1] = 0.0
    rects, visible = screen_rects(
        (shadow_lo + shadow_hi) / 2, (shadow_hi - shadow_lo) / 2, pose, intr, width, height
    )
    origin = pose.origin.astype(np.float32)
    _shadow_kernel(
        gbuf.depth, gbuf.surface, gbuf.directions, origin, sun, candidates[visible], rects[visible],
        scene.shape, centre.astype(np.float32), scene.half, gbuf.shadow,
    )  # fmt: skip


@numba.njit(cache=True, nogil=True)
def _cast_kernel(
    rays,
    rot,
    origin,
    band_edges,
    band_surface,
    paint_lines,
    paint_period,
    backdrop_distance,
    backdrop_x0,
    backdrop_heights,
    prims,
    rects,
    shape,
    centre_rel,
    half,
    depth,
    surface,
    face,
    dirs,
):  # pragma: no cover - compiled
    height, width = depth.shape
    ox, oy = origin[0], origin[1]
    oz = origin[2]
    n_bands = band_edges.shape[0]
    n_heights = backdrop_heights.shape[0]
    inf = np.float32(np.inf)
    for r in range(height):
        for c in range(width):
            rx, ry = rays[r, c, 0], rays[r, c, 1]
            dx = rot[0, 0] * rx + rot[0, 1] * ry + rot[0, 2]
            dy = rot[1, 0] * rx + rot[1, 1] * ry + rot[1, 2]
            dz = rot[2, 0] * rx + rot[2, 1] * ry + rot[2, 2]
            dirs[r, c, 0], dirs[r, c, 1], dirs[r, c, 2] = dx, dy, dz
            best = inf
            surf = _SKY
            code = 2
            if dy < 0:  # the ground plane y = 0: band by lateral position, lane paint on the road
                best = oy / -dy
                gx = ox + best * dx
                gz = oz + best * dz
                band = 0
                while band < n_bands and band_edges[band] < gx:
                    band += 1
                surf = band_surface[band]
                if surf == _ROAD:
                    phase = (gz % paint_period) / paint_period
                    for k in range(paint_lines.shape[0]):
                        if abs(gx - paint_lines[k, 0]) < paint_lines[k, 1] and (
                            paint_lines[k, 2] >= 1.0 or phase < paint_lines[k, 2]
                        ):
                            surf = _PAINT
                            break
            if dz > 0:  # the backdrop plane, solid below its silhouette
                tb = backdrop_distance / dz
                if tb < best:
                    col = int(ox + tb * dx - backdrop_x0)
                    col = min(max(col, 0), n_heights - 1)
                    if oy + tb * dy < backdrop_heights[col]:
                        best = tb
                        surf = _BACKDROP
                        code = 5
            depth[r, c] = best
            surface[r, c] = surf
            face[r, c] = code
    for k in range(prims.shape[0]):
        p = prims[k]
        c0, r0, c1, r1 = rects[k, 0], rects[k, 1], rects[k, 2], rects[k, 3]
        cx, cy, cz = centre_rel[p, 0], centre_rel[p, 1], centre_rel[p, 2]
        hx, hy, hz = half[p, 0], half[p, 1], half[p, 2]
        if shape[p] == _BOX:
            for r in range(r0, r1):
                for c in range(c0, c1):
                    dx, dy, dz = dirs[r, c, 0], dirs[r, c, 1], dirs[r, c, 2]
                    # Slab test; a zero direction component gives +-inf, which the min/max handle.
                    ix, iy, iz = (
                        1.0 / dx if dx != 0 else inf,
                        1.0 / dy if dy != 0 else inf,
                        1.0 / dz if dz != 0 else inf,
                    )
                    ax, bx = (cx - hx) * ix, (cx + hx) * ix
                    ay, by = (cy - hy) * iy, (cy + hy) * iy
                    az, bz = (cz - hz) * iz, (cz + hz) * iz
                    nx, ny, nz = min(ax, bx), min(ay, by), min(az, bz)
                    far = min(max(ax, bx), max(ay, by), max(az, bz))
                    entry = max(nx, ny, nz)
                    if entry <= far and entry > NEAR and entry < depth[r, c]:
                        depth[r, c] = entry
                        surface[r, c] = _FIRST_PRIMITIVE + p
                        if nx == entry:
                            face[r, c] = 1 if dx > 0 else 0
                        elif ny == entry:
                            face[r, c] = 3 if dy > 0 else 2
                        else:
                            face[r, c] = 5 if dz > 0 else 4
        else:
            sx, sy, sz = cx / hx, cy / hy, cz / hz
            cc = sx * sx + sy * sy + sz * sz - 1.0
            for r in range(r0, r1):
                for c in range(c0, c1):
                    ex, ey, ez = dirs[r, c, 0] / hx, dirs[r, c, 1] / hy, dirs[r, c, 2] / hz
                    a = ex * ex + ey * ey + ez * ez
                    hb = ex * sx + ey * sy + ez * sz
                    disc = hb * hb - a * cc
                    if disc > 0:
                        t = (hb - np.sqrt(disc)) / a
                        if t > NEAR and t < depth[r, c]:
                            depth[r, c] = t
                            surface[r, c] = _FIRST_PRIMITIVE + p
                            face[r, c] = FACE_ELLIPSOID


@numba.njit(cache=True, nogil=True, inline="always")
def _blocks_sun(qx, qy, qz, hx, hy, hz, sx, sy, sz, ix, iy, iz, is_box):  # pragma: no cover - compiled
    """Whether a ray to the sun s (1/s = i) hits the box or ellipsoid at relative q with half size h."""
    if is_box:
        ax, bx = (qx - hx) * ix, (qx + hx) * ix
        ay, by = (qy - hy) * iy, (qy + hy) * iy
        az, bz = (qz - hz) * iz, (qz + hz) * iz
        entry = max(min(ax, bx), min(ay, by), min(az, bz))
        far = min(max(ax, bx), max(ay, by), max(az, bz))
        return far >= entry and far > 1e-3
    ex, ey, ez = sx / hx, sy / hy, sz / hz
    ux, uy, uz = qx / hx, qy / hy, qz / hz
    a = ex * ex + ey * ey + ez * ez
    hb = ex * ux + ey * uy + ez * uz
    disc = hb * hb - a * (ux * ux + uy * uy + uz * uz - 1.0)
    return disc > 0 and hb + np.sqrt(disc) > 1e-3


@numba.njit(cache=True, nogil=True)
def _shadow_kernel(
    depth, surface, dirs, origin, sun, prims, rects, shape, centre, half, shadow
):  # pragma: no cover - compiled
    """Shadow tests on 2x2 blocks: one test per block serves the block's pixels on the same surface.

    Shadows vary slowly within one surface, so this quarters the work; pixels of another
    surface than the block's first (object boundaries) are tested on their own.
    """
    height, width = depth.shape
    sx, sy, sz = sun[0], sun[1], sun[2]
    ix = 1.0 / sx if sx != 0 else np.inf
    iy = 1.0 / sy if sy != 0 else np.inf
    iz = 1.0 / sz if sz != 0 else np.inf
    ox, oy, oz = origin[0], origin[1], origin[2]
    for k in range(prims.shape[0]):
        p = prims[k]
        own = _FIRST_PRIMITIVE + p
        box = shape[p] == _BOX
        cx, cy, cz = centre[p, 0] - ox, centre[p, 1] - oy, centre[p, 2] - oz
        hx, hy, hz = half[p, 0], half[p, 1], half[p, 2]
        c0, r0, c1, r1 = rects[k, 0], rects[k, 1], rects[k, 2], rects[k, 3]
        for r in range(r0 - r0 % 2, r1, 2):
            for c in range(c0 - c0 % 2, c1, 2):
                first = surface[r, c]
                first_known = False
                first_hit = False
                for rr in range(r, min(r + 2, height)):
                    for cc in range(c, min(c + 2, width)):
                        s = surface[rr, cc]
                        if shadow[rr, cc] or s == own or s == _SKY:  # noqa: SIM109 (compiled: plain compares)
                            continue
                        if s == first and first_known:
                            hit = first_hit
                        else:
                            t = depth[rr, cc]
                            hit = _blocks_sun(
                                cx - t * dirs[rr, cc, 0],
                                cy - t * dirs[rr, cc, 1],
                                cz - t * dirs[rr, cc, 2],
                                hx,
                                hy,
                                hz,
                                sx,
                                sy,
                                sz,
                                ix,
                                iy,
                                iz,
                                box,
                            )
                            if s == first:
                                first_known, first_hit = True, hit
                        if hit:
                            shadow[rr, cc] = 1
