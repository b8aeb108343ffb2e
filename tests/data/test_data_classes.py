import numpy as np

from vkstream.data import (
    CLASS_NAMES,
    CLASSES,
    NUM_CLASSES,
    PALETTE,
    SEMKITTI_TO_TRAIN_ID,
    THING_IDS,
    VOID,
    TrainId,
)


def test_class_table_is_indexed_by_train_id():
    assert NUM_CLASSES == 19 == len(CLASSES) == len(TrainId)
    assert all(info.id == i for i, info in enumerate(CLASSES))
    assert CLASS_NAMES[TrainId.TRAFFIC_LIGHT] == "traffic light"
    assert CLASS_NAMES[0] == "road" and CLASS_NAMES[18] == "bicycle"
    assert frozenset({11, 13}) == THING_IDS
    assert {c.id for c in CLASSES if c.thing} == {TrainId.PERSON, TrainId.CAR}


def test_palette_holds_cityscapes_colours_and_black_elsewhere():
    assert PALETTE.shape == (256, 3) and PALETTE.dtype == np.uint8
    assert tuple(PALETTE[TrainId.ROAD]) == (128, 64, 128)
    assert tuple(PALETTE[TrainId.CAR]) == (0, 0, 142)
    assert not PALETTE[NUM_CLASSES:].any()
    assert tuple(PALETTE[VOID]) == (0, 0, 0)


def test_semkitti_lookup_table():
    assert SEMKITTI_TO_TRAIN_ID.shape == (256,) and SEMKITTI_TO_TRAIN_ID.dtype == np.uint8
    expected = [13, 18, 17, 14, 15, 11, 12, 12, 0, 0, 1, 9, 2, 4, 8, 8, 9, 5, 7]
    assert SEMKITTI_TO_TRAIN_ID[:19].tolist() == expected
    assert (SEMKITTI_TO_TRAIN_ID[19:] == VOID).all()
