"""The checkpoint in the repository loads and segments, tracks and ranges a synthetic street it never saw."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from vkstream.data import THING_IDS
from vkstream.models import OnlineVideoKNet
from vkstream.synth import SequenceRenderer
from vkstream.train import load_model
from vkstream.train.online import predict_sequence

SHIPPED = Path(__file__).resolve().parents[2] / "checkpoints" / "synth_small.pt"
FRAMES = 4


@pytest.fixture(scope="module")
def predictions():
    torch.manual_seed(0)
    model, config, metadata = load_model(SHIPPED, "cpu")
    # Seed 404 is none of the training, validation or test seeds.
    renderer = SequenceRenderer(seed=404, sequence_index=0, frames=FRAMES, size=(621, 188))
    frames = [renderer.render(i) for i in range(FRAMES)]
    return config, metadata, list(predict_sequence(OnlineVideoKNet(model), frames, torch.device("cpu")))


def test_the_shipped_checkpoint_is_small_and_described(predictions) -> None:
    config, metadata, _ = predictions
    assert SHIPPED.stat().st_size < 25 * 2**20
    assert config.num_classes == 19 and tuple(config.thing_classes) == (11, 13)
    assert metadata["kind"] == "export"


def test_the_shipped_checkpoint_segments_ranges_and_tracks(predictions) -> None:
    _, _, pairs = predictions
    accuracy, abs_rel, tracked = [], [], []
    for truth, guess in pairs:
        assert guess.semantic is not None and guess.instance is not None and guess.depth is not None
        assert truth.semantic is not None and truth.depth is not None
        assert 255 not in guess.semantic
        labelled = truth.semantic != 255
        accuracy.append(np.mean(guess.semantic[labelled] == truth.semantic[labelled]))
        valid = truth.depth > 0
        abs_rel.append(np.mean(np.abs(guess.depth[valid] - truth.depth[valid]) / truth.depth[valid]))
        things = np.isin(guess.semantic, list(THING_IDS))
        tracked.append(set(np.unique(guess.instance[things])) - {0})
    assert np.mean(accuracy) > 0.9, accuracy
    assert np.mean(abs_rel) < 0.15, abs_rel
    assert all(tracked), "every frame has tracked cars or people"
    assert tracked[0] & tracked[-1], "some track ids persist over the sequence"
