"""`vkstream predict` writes track ids as the publisher does: ids past 16 bits wrap, never to 0."""

from __future__ import annotations

import numpy as np
import torch

from vkstream.data import Frame
from vkstream.models.online import FrameResult
from vkstream.train.online import prediction_frame
from vkstream.wire import wrap_track_id


def test_track_ids_past_16_bits_stay_tracked() -> None:
    tracks = torch.tensor([[0, 1, 65535, 65536, 65537, 200_000]], dtype=torch.int32)
    result = FrameResult(
        frame_index=0,
        semantic=torch.full(tracks.shape, 13, dtype=torch.uint8),
        track=tracks,
        depth=torch.ones(tracks.shape),
        panoptic=torch.zeros(tracks.shape, dtype=torch.int32),
        segments=[],
    )
    frame = Frame(sequence="0000", index=0, timestamp=0.0, image=np.zeros((1, 6, 3), np.uint8))
    instance = prediction_frame(frame, result).instance
    assert instance.dtype == np.uint16
    assert instance.tolist() == [[wrap_track_id(int(t)) for t in tracks[0]]]
    assert (instance[0, 1:] > 0).all()  # astype(uint16) made 65536 untracked (0)
