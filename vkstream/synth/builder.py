"""Collects surfaces, primitives and agents while a world is laid out; the palettes it draws from."""

from __future__ import annotations

import numpy as np

from vkstream.synth.scene import Shape
from vkstream.synth.textures import Tex


def rgb(hex_colour: str) -> np.ndarray:
    """An sRGB colour such as "a35a45" as three floats in [0, 1]."""
    return np.array([int(hex_colour[i : i + 2], 16) / 255.0 for i in (0, 2, 4)])


def palette(hex_colours: str) -> list[np.ndarray]:
    return [rgb(c) for c in hex_colours.split()]


CAR_PAINTS = palette("f2f2f0 c8cacc 8d9196 2a2b2e 121314 9e1b1b 1d3f7a 2f5d3a c9b48a 5a3a22 d7d24a 4f6f8f")
FACADES = palette("d9cbb0 bfb6a8 a35a45 8c8f94 e8e2d0 c79b6d 9aa39a 7b6a5c d8d0c0 b2836b")
CLOTHES = palette("1f2a44 3b3b3b 7a1f1f d9d9d9 2e5e3a a67c52 101010 5a6e8c c4a35a 6b2f5b")
SKIN = palette("f1c27d e0ac69 c68642 8d5524 ffdbac 5c3a21")


def jitter(rng: np.random.Generator, colour, amount: float = 0.08) -> np.ndarray:
    gain = rng.uniform(1 - amount, 1 + amount)
    return np.clip(np.asarray(colour) * gain + rng.normal(0, amount / 3, 3), 0.0, 1.0)


def pick(rng: np.random.Generator, palette: list) -> np.ndarray:
    return np.asarray(palette[int(rng.integers(len(palette)))])


class SceneBuilder:
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
