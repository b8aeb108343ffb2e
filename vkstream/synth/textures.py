"""Procedural texture bank: tileable grey-level patterns that materials mix two colours with.

Every tile is periodic (spectral noise is periodic by construction, patterns are laid out on
the tile's period), so sampling with a wrapped integer index shows no seams. The bank is
drawn from the sequence's generator, so the same seed gives the same textures.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np

TILE = 256
"""Side of every texture tile in texels; a power of two so wrapping is a bit mask."""


class Tex(IntEnum):
    PLAIN = 0
    NOISE_FINE = 1
    NOISE_COARSE = 2
    WINDOWS = 3
    PAVING = 4
    SLATS = 5
    LEAVES = 6
    CABIN = 7
    SIGN = 8
    SIGNAL = 9
    PANELS = 10
    CLOUDS = 11


def _spectral_noise(rng: np.random.Generator, exponent: float, cutoff: float = 1.0) -> np.ndarray:
    """Periodic noise with a 1/f^exponent spectrum, normalised to [0, 1]."""
    white = rng.standard_normal((TILE, TILE))
    freq = np.fft.fftfreq(TILE)
    radius = np.sqrt(freq[:, None] ** 2 + freq[None, :] ** 2)
    radius[0, 0] = 1.0
    gain = radius**-exponent * (radius <= cutoff * 0.5)
    gain[0, 0] = 0.0
    noise = np.fft.ifft2(np.fft.fft2(white) * gain).real
    noise -= noise.min()
    return noise / max(float(noise.max()), 1e-9)


def _coords() -> tuple[np.ndarray, np.ndarray]:
    v, u = np.mgrid[0:TILE, 0:TILE]
    return u, v


def _windows(rng: np.random.Generator, detail: np.ndarray) -> np.ndarray:
    """Two window bays by two floors per tile: 1 = glass, 0 = facade."""
    u, v = _coords()
    bay_u, bay_v = u % 128, v % 128
    margin_u = int(rng.integers(22, 40))
    margin_v = int(rng.integers(28, 44))
    glass = (bay_u > margin_u) & (bay_u < 128 - margin_u) & (bay_v > margin_v) & (bay_v < 128 - margin_v // 2)
    frame = (np.abs(bay_u - 64) < 2) & glass
    return np.clip(glass * (0.85 + 0.15 * detail) - 0.6 * frame + 0.1 * detail * ~glass, 0.0, 1.0)


def _paving(detail: np.ndarray) -> np.ndarray:
    """Paving slabs: 1 = slab, 0 = joint."""
    u, v = _coords()
    joint = ((u % 32) < 2) | (((v + 16 * ((u // 32) % 2)) % 32) < 2)
    return np.where(joint, 0.05, 0.75 + 0.25 * detail)


def _disc(radius_texels: float, cu: float, cv: float) -> np.ndarray:
    u, v = _coords()
    return np.hypot(u - cu, v - cv) <= radius_texels


def build_texture_bank(rng: np.random.Generator) -> np.ndarray:
    """Return a (len(Tex), TILE, TILE) float32 array of patterns in [0, 1]."""
    fine = _spectral_noise(rng, 0.6)
    coarse = _spectral_noise(rng, 1.6)
    speckle = _spectral_noise(rng, 0.9)
    u, v = _coords()
    bank = np.zeros((len(Tex), TILE, TILE), np.float32)
    bank[Tex.PLAIN] = 0.0
    bank[Tex.NOISE_FINE] = fine
    bank[Tex.NOISE_COARSE] = coarse
    bank[Tex.WINDOWS] = _windows(rng, fine)
    bank[Tex.PAVING] = _paving(fine)
    bank[Tex.SLATS] = np.where((u % 16) < 12, 0.2 + 0.3 * fine, 1.0)
    bank[Tex.LEAVES] = np.clip((speckle - 0.35) * 2.2 + 0.3 * coarse, 0.0, 1.0)
    # Cabin, seen with the anchor at the tile centre: glass band between sills and roof, pillars at the ends.
    pillar = (np.abs(u - 128) % 64) > 56
    bank[Tex.CABIN] = np.where(pillar, 0.0, 0.9 + 0.1 * fine)
    # Sign plate: a disc with a rim, centred on the tile centre where the plate's anchor lies.
    rim = _disc(110, 128, 128) & ~_disc(82, 128, 128)
    bank[Tex.SIGN] = np.where(rim, 1.0, np.where(_disc(110, 128, 128), 0.15, 0.5))
    lamps = _disc(26, 128, 60) | _disc(26, 128, 128) | _disc(26, 128, 196)
    bank[Tex.SIGNAL] = np.where(lamps, 1.0, 0.05 * fine)
    bank[Tex.PANELS] = np.where((v % 64) < 3, 0.0, 0.6 + 0.4 * fine)
    bank[Tex.CLOUDS] = np.clip((coarse - 0.45) * 3.0, 0.0, 1.0)
    return bank
