"""The 19 Cityscapes train-id classes that KITTI-STEP uses, their colours, and the SemanticKITTI mapping."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np


class TrainId(IntEnum):
    """Cityscapes train ids, the label space of KITTI-STEP and of every vkstream output."""

    ROAD = 0
    SIDEWALK = 1
    BUILDING = 2
    WALL = 3
    FENCE = 4
    POLE = 5
    TRAFFIC_LIGHT = 6
    TRAFFIC_SIGN = 7
    VEGETATION = 8
    TERRAIN = 9
    SKY = 10
    PERSON = 11
    RIDER = 12
    CAR = 13
    TRUCK = 14
    BUS = 15
    TRAIN = 16
    MOTORCYCLE = 17
    BICYCLE = 18


@dataclass(frozen=True)
class ClassInfo:
    """One class: ``thing`` marks the classes KITTI-STEP tracks as instances (person, car)."""

    id: int
    name: str
    thing: bool
    color: tuple[int, int, int]


_THINGS = {TrainId.PERSON, TrainId.CAR}
_COLORS: dict[TrainId, tuple[int, int, int]] = {
    TrainId.ROAD: (128, 64, 128),
    TrainId.SIDEWALK: (244, 35, 232),
    TrainId.BUILDING: (70, 70, 70),
    TrainId.WALL: (102, 102, 156),
    TrainId.FENCE: (190, 153, 153),
    TrainId.POLE: (153, 153, 153),
    TrainId.TRAFFIC_LIGHT: (250, 170, 30),
    TrainId.TRAFFIC_SIGN: (220, 220, 0),
    TrainId.VEGETATION: (107, 142, 35),
    TrainId.TERRAIN: (152, 251, 152),
    TrainId.SKY: (70, 130, 180),
    TrainId.PERSON: (220, 20, 60),
    TrainId.RIDER: (255, 0, 0),
    TrainId.CAR: (0, 0, 142),
    TrainId.TRUCK: (0, 0, 70),
    TrainId.BUS: (0, 60, 100),
    TrainId.TRAIN: (0, 80, 100),
    TrainId.MOTORCYCLE: (0, 0, 230),
    TrainId.BICYCLE: (119, 11, 32),
}

CLASSES: tuple[ClassInfo, ...] = tuple(
    ClassInfo(int(t), t.name.lower().replace("_", " "), t in _THINGS, _COLORS[t]) for t in TrainId
)
NUM_CLASSES = len(CLASSES)
VOID = 255
CLASS_NAMES: tuple[str, ...] = tuple(c.name for c in CLASSES)
THING_IDS: frozenset[int] = frozenset(c.id for c in CLASSES if c.thing)

PALETTE = np.zeros((256, 3), dtype=np.uint8)
"""RGB colour per label value; void and every unknown value stay black."""
PALETTE[:NUM_CLASSES] = [c.color for c in CLASSES]
PALETTE.setflags(write=False)

VALID_LABELS = np.zeros(256, dtype=bool)
"""Lookup of label values a file may hold: the 19 classes and void."""
VALID_LABELS[:NUM_CLASSES] = True
VALID_LABELS[VOID] = True
VALID_LABELS.setflags(write=False)

# SemanticKITTI-19 order of the official SemKITTI-DVPS release -> our train ids. The mapping is lossy
# (bicyclist and motorcyclist both become rider; parking joins road; trunk joins vegetation), so data
# converted with it cannot be mapped back.
_SEMKITTI = (
    TrainId.CAR,  # 0 car
    TrainId.BICYCLE,  # 1 bicycle
    TrainId.MOTORCYCLE,  # 2 motorcycle
    TrainId.TRUCK,  # 3 truck
    TrainId.BUS,  # 4 other-vehicle
    TrainId.PERSON,  # 5 person
    TrainId.RIDER,  # 6 bicyclist
    TrainId.RIDER,  # 7 motorcyclist
    TrainId.ROAD,  # 8 road
    TrainId.ROAD,  # 9 parking
    TrainId.SIDEWALK,  # 10 sidewalk
    TrainId.TERRAIN,  # 11 other-ground
    TrainId.BUILDING,  # 12 building
    TrainId.FENCE,  # 13 fence
    TrainId.VEGETATION,  # 14 vegetation
    TrainId.VEGETATION,  # 15 trunk
    TrainId.TERRAIN,  # 16 terrain
    TrainId.POLE,  # 17 pole
    TrainId.TRAFFIC_SIGN,  # 18 traffic-sign
)
SEMKITTI_TO_TRAIN_ID = np.full(256, VOID, dtype=np.uint8)
"""256-entry lookup table: SemanticKITTI-19 label -> train id (anything else -> 255)."""
SEMKITTI_TO_TRAIN_ID[: len(_SEMKITTI)] = _SEMKITTI
SEMKITTI_TO_TRAIN_ID.setflags(write=False)
