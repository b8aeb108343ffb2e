"""Run the online model over recorded sequences frame by frame, as the runtime does on a live stream."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import torch

from vkstream.data import Frame
from vkstream.data.errors import DatasetError
from vkstream.models import FrameResult, OnlineVideoKNet
from vkstream.train.pairs import image_tensor
from vkstream.wire import wrap_track_ids


def prediction_frame(frame: Frame, result: FrameResult) -> Frame:
    """The model's output for ``frame`` as a Frame: instance = track id as published, intrinsics kept."""
    return Frame(
        sequence=frame.sequence,
        index=frame.index,
        timestamp=frame.timestamp,
        semantic=result.semantic.to("cpu", torch.uint8).numpy(),
        instance=wrap_track_ids(result.track.to("cpu", torch.int64).numpy()),
        depth=result.depth.to("cpu", torch.float32).numpy(),
        intrinsics=frame.intrinsics,
    )


def predict_sequence(
    online: OnlineVideoKNet, frames: Iterable[Frame], device: torch.device
) -> Iterator[tuple[Frame, Frame]]:
    """(input, prediction) for one sequence's frames in order; the stream's state carries between frames.

    Frames are read lazily, so a long sequence never sits in memory whole.
    """
    state = None
    for frame in frames:
        if frame.image is None:
            raise DatasetError(frame.source or f"{frame.sequence}/{frame.index}", "frame has no image")
        image = image_tensor(frame.image).unsqueeze(0).to(device)
        with torch.inference_mode():
            results, states = online.step(image, [state])
        state = states[0]
        yield frame, prediction_frame(frame, results[0])
