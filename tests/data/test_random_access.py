"""Random access by position and reading labels without images, as training and evaluation do."""

from __future__ import annotations

import numpy as np
import pytest

from vkstream.data import Intrinsics, make_writer, open_dataset

K = Intrinsics(700.0, 700.0, 32.0, 24.0)


@pytest.mark.parametrize("layout", ["kitti-step", "semkitti-dvps"])
def test_read_frame_and_frame_numbers_match_the_stream(tmp_path, make_frame, layout: str) -> None:
    writer = make_writer(layout, tmp_path)
    for i, index in enumerate((3, 4, 9)):
        writer.write(make_frame(i, "0001", index, intrinsics=K))
    dataset = open_dataset(tmp_path, layout=layout)
    sequence = dataset.sequences[0]
    assert dataset.frame_numbers(sequence) == [3, 4, 9]
    streamed = list(dataset.frames(sequence))
    for position in (2, 0, 1):
        frame = dataset.read_frame(sequence, position)
        assert frame.index == streamed[position].index
        np.testing.assert_array_equal(frame.semantic, streamed[position].semantic)
    with pytest.raises(IndexError):
        dataset.read_frame(sequence, 3)

    labels_only = open_dataset(tmp_path, layout=layout, read_images=False)
    frame = next(labels_only.frames(sequence))
    assert frame.image is None and frame.semantic is not None and frame.depth is not None
