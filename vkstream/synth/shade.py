"""Colour from the G-buffer: textured two-colour materials, sun and ambient light, haze, sky, sensor noise.

Texture coordinates are taken on the hit face relative to the surface's anchor (a primitive's
centre), so a texture moves with the car or person that carries it; the ground and backdrop
are anchored at the world origin. The per-pixel loop is compiled with numba.
"""

from __future__ import annotations

import numba
import numpy as np

from vkstream.synth.raycast import FACE_ELLIPSOID, GBuffer
from vkstream.synth.scene import Scene, Special
from vkstream.synth.textures import TILE, Tex

_SKY = int(Special.SKY)
_FIRST_PRIMITIVE = len(Special)
_CLOUDS = int(Tex.CLOUDS)


def shade(
    scene: Scene,
    gbuf: GBuffer,
    origin: np.ndarray,
    centre: np.ndarray,
    bank: np.ndarray,
    noise: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Render an (H, W, 3) uint8 RGB image; `centre` are the primitives' world centres at this time."""
    height, width = gbuf.depth.shape
    gain = np.float32(255.0 * scene.exposure)
    lit_a = (scene.colour_a * scene.sun_colour * gain).astype(np.float32)
    lit_d = ((scene.colour_b - scene.colour_a) * scene.sun_colour * gain).astype(np.float32)
    # Lambert term of each box face code: the face normal points against the ray along its axis.
    sun = scene.sun.astype(np.float32)
    face_light = np.array([sun[0], -sun[0], sun[1], -sun[1], sun[2], -sun[2], 0.0], np.float32)
    face_light = np.float32(scene.ambient) + np.float32(1.0 - scene.ambient) * np.maximum(face_light, 0.0)
    image = np.empty((height, width, 3), np.uint8)
    r0 = int(rng.integers(0, noise.shape[0] - height + 1))
    c0 = int(rng.integers(0, noise.shape[1] - width + 1))
    _shade_kernel(
        gbuf.depth, gbuf.surface, gbuf.face, gbuf.directions, gbuf.shadow, origin.astype(np.float32),
        scene.anchors(centre), scene.half, scene.texture, scene.tex_scale, lit_a, lit_d, face_light,
        sun, np.float32(scene.ambient), np.float32(scene.haze_distance),
        (scene.sky_horizon * gain).astype(np.float32), (scene.sky_zenith * gain).astype(np.float32),
        np.float32(0.95 * gain), bank, noise[r0 : r0 + height, c0 : c0 + width], image,
    )  # fmt: skip
    return image


@numba.njit(cache=True, nogil=True)
def _shade_kernel(
    depth,
    surface,
    face,
    dirs,
    shadow,
    origin,
    anchor,
    half,
    texture,
    tex_scale,
    lit_a,
    lit_d,
    face_light,
    sun,
    ambient,
    haze_distance,
    sky_horizon,
    sky_zenith,
    cloud_white,
    bank,
    noise,
    image,
):  # pragma: no cover - compiled
    height, width = depth.shape
    mask = TILE - 1
    centre_texel = TILE // 2
    for r in range(height):
        for c in range(width):
            dx, dy, dz = dirs[r, c, 0], dirs[r, c, 1], dirs[r, c, 2]
            s = surface[r, c]
            if s == _SKY:
                # Horizon-to-zenith gradient with clouds fixed to the sky dome.
                elevation = dy / np.sqrt(dx * dx + dy * dy + dz * dz)
                blend = min(max(elevation * 2.5, 0.0), 1.0)
                lift = max(dy, 0.02)
                cu = int(dx / lift * 40.0) & mask
                cv = int(dz / lift * 40.0) & mask
                cloud = bank[_CLOUDS, cv, cu] * min(max(elevation * 4.0, 0.0), 1.0) * 0.8
                for ch in range(3):
                    base = sky_horizon[ch] + (sky_zenith[ch] - sky_horizon[ch]) * blend
                    value = base + (cloud_white - base) * cloud + noise[r, c, ch]
                    image[r, c, ch] = np.uint8(min(max(value, 0.0), 255.0))
                continue
            t = depth[r, c]
            lx = origin[0] + t * dx - anchor[s, 0]
            ly = origin[1] + t * dy - anchor[s, 1]
            lz = origin[2] + t * dz - anchor[s, 2]
            code = face[r, c]
            axis = code >> 1
            if code == FACE_ELLIPSOID:
                u, v = lx + lz, ly
                p = s - _FIRST_PRIMITIVE
                nx, ny, nz = lx / half[p, 0] ** 2, ly / half[p, 1] ** 2, lz / half[p, 2] ** 2
                lam = (nx * sun[0] + ny * sun[1] + nz * sun[2]) / (
                    np.sqrt(nx * nx + ny * ny + nz * nz) + 1e-6
                )
                light = ambient + (1.0 - ambient) * max(lam, 0.0)
            else:
                u = lz if axis == 0 else lx
                v = lz if axis == 1 else ly
                light = face_light[code]
            if shadow[r, c]:
                light = ambient
            scale = tex_scale[s]
            iu = (int(np.floor(u * scale)) + centre_texel) & mask
            iv = (centre_texel - 1 - int(np.floor(v * scale))) & mask
            tex = bank[texture[s], iv, iu]
            haze = 1.0 - np.exp(-t / haze_distance)
            for ch in range(3):
                lit = (lit_a[s, ch] + lit_d[s, ch] * tex) * light
                value = lit + (sky_horizon[ch] - lit) * haze + noise[r, c, ch]
                image[r, c, ch] = np.uint8(min(max(value, 0.0), 255.0))
