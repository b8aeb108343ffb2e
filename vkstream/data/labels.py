"""A label space: the classes a model predicts, their names, which are tracked things, their colours.

One small immutable descriptor (as deeplab2's dataset descriptors) travels with the model: it is stored
in the checkpoint and handed to everything that reads predictions (publisher, evaluator, predict,
visualisation), so nothing downstream assumes a particular dataset's classes.
"""

from __future__ import annotations

import colorsys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from vkstream.data.classes import CLASSES, VOID

RGB = tuple[int, int, int]


@dataclass(frozen=True)
class LabelSpace:
    """Class ``i`` is named ``names[i]``, drawn in ``palette[i]``; ``things`` are the tracked class ids."""

    names: tuple[str, ...]
    things: frozenset[int]
    palette: tuple[RGB, ...]

    def __post_init__(self) -> None:
        n = len(self.names)
        if not 2 <= n <= VOID:
            raise ValueError(f"a label space has 2 to {VOID} classes, got {n}")
        if any(not isinstance(name, str) or not name for name in self.names):
            raise ValueError("class names must be non-empty strings")
        if len(set(self.names)) != n:
            raise ValueError(f"class names repeat: {', '.join(sorted(self.names))}")
        if any(not 0 <= t < n for t in self.things):
            raise ValueError(f"thing classes {sorted(self.things)} must be class ids below {n}")
        if len(self.palette) != n or any(
            len(c) != 3 or not all(0 <= v <= 255 for v in c) for c in self.palette
        ):
            raise ValueError(f"the palette needs one [R, G, B] (0-255) per class, {n} in all")

    @classmethod
    def build(
        cls, names: Sequence[str], things: Iterable[int], palette: Sequence[Sequence[int]] | None = None
    ) -> LabelSpace:
        """A label space; without a palette, distinct colours are generated."""
        colours = generated_palette(len(names)) if palette is None else palette
        return cls(tuple(names), frozenset(int(t) for t in things), tuple(_rgb(c) for c in colours))

    @classmethod
    def for_classes(cls, num_classes: int, things: Iterable[int]) -> LabelSpace:
        """The label space of a model that states none: Cityscapes' when it has 19 classes, else numbered."""
        if num_classes == len(CITYSCAPES.names):
            return cls(CITYSCAPES.names, frozenset(things), CITYSCAPES.palette)
        return cls.build([f"class {i}" for i in range(num_classes)], things)

    @property
    def num_classes(self) -> int:
        return len(self.names)

    @property
    def thing_ids(self) -> tuple[int, ...]:
        return tuple(sorted(self.things))

    def lookup_palette(self) -> np.ndarray:
        """256x3 uint8 colour per label value; unknown values and void stay black."""
        table = np.zeros((256, 3), np.uint8)
        table[: self.num_classes] = self.palette
        return table

    def to_json(self) -> dict[str, Any]:
        return {
            "names": list(self.names),
            "things": list(self.thing_ids),
            "palette": [list(c) for c in self.palette],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LabelSpace:
        """The label space of :meth:`to_json`; ValueError naming what is wrong."""
        try:
            return cls.build(data["names"], data["things"], data["palette"])
        except (KeyError, TypeError) as err:
            raise ValueError(f"a label space needs names, things and palette ({err})") from None


def _rgb(colour: Sequence[int]) -> RGB:
    r, g, b = (int(v) for v in colour)
    return (r, g, b)


def generated_palette(count: int) -> list[RGB]:
    """``count`` well-separated colours: golden-ratio steps around the hue circle."""
    colours = []
    for i in range(count):
        r, g, b = colorsys.hsv_to_rgb((i * 0.6180339887498949) % 1.0, 0.65, 0.9)
        colours.append((round(r * 255), round(g * 255), round(b * 255)))
    return colours


CITYSCAPES = LabelSpace(
    tuple(c.name for c in CLASSES),
    frozenset(c.id for c in CLASSES if c.thing),
    tuple(c.color for c in CLASSES),
)
"""The 19 Cityscapes train-id classes of KITTI-STEP, person and car tracked."""
