from __future__ import annotations

import pytest
import torch

from tests.models.conftest import frame_targets, image_tensor
from vkstream.data.frame import Frame
from vkstream.models import ModelConfig, VideoKNet


def test_losses_are_named_finite_scalars(tiny_cfg: ModelConfig, synth_frames: list[Frame]) -> None:
    torch.manual_seed(0)
    model = VideoKNet(tiny_cfg)
    key, ref = synth_frames[2], synth_frames[0]
    losses = model.training_losses(
        image_tensor(key)[None],
        [frame_targets(key, tiny_cfg)],
        image_tensor(ref)[None],
        [frame_targets(ref, tiny_cfg)],
    )
    expected = {"semantic", "track_ce", "track_l2", "depth_dense", "depth_query"}
    for stage in range(tiny_cfg.num_stages + 1):
        expected |= {f"mask_{stage}", f"dice_{stage}"}
    expected |= {f"cls_{stage}" for stage in range(1, tiny_cfg.num_stages + 1)}
    assert set(losses) == expected
    for name, value in losses.items():
        assert value.ndim == 0 and bool(torch.isfinite(value)), name
        assert float(value.detach()) >= 0, name
    assert float(losses["track_ce"].detach()) > 0  # the frames share tracked objects


def test_a_few_steps_reduce_the_loss(tiny_cfg: ModelConfig, synth_frames: list[Frame]) -> None:
    torch.manual_seed(0)
    model = VideoKNet(tiny_cfg)
    key_images = torch.stack([image_tensor(synth_frames[1]), image_tensor(synth_frames[3])])
    ref_images = torch.stack([image_tensor(synth_frames[0]), image_tensor(synth_frames[2])])
    key_targets = [frame_targets(synth_frames[i], tiny_cfg) for i in (1, 3)]
    ref_targets = [frame_targets(synth_frames[i], tiny_cfg) for i in (0, 2)]
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    history = []
    for _ in range(8):
        losses = model.training_losses(key_images, key_targets, ref_images, ref_targets)
        total = sum(losses.values())
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
        history.append(float(total.detach()))
    assert history[-1] < 0.7 * history[0], history
    grads = [p.grad for p in model.kernel_head.embed_head.parameters()]
    assert all(g is not None and bool(g.abs().sum() > 0) for g in grads)


def test_a_frame_without_objects_trains(tiny_cfg: ModelConfig, synth_frames: list[Frame]) -> None:
    torch.manual_seed(0)
    model = VideoKNet(tiny_cfg)
    frame = synth_frames[0]
    empty = Frame(
        "x", 0, 0.0, semantic=frame.semantic.copy(), instance=frame.instance * 0, depth=frame.depth * 0
    )
    empty.semantic[empty.semantic >= 11] = 0
    t = frame_targets(empty, tiny_cfg)
    image = image_tensor(frame)[None]
    losses = model.training_losses(image, [t], image, [t])
    assert all(bool(torch.isfinite(v)) for v in losses.values())
    sum(losses.values()).backward()


def test_mismatched_batches_are_clear_errors(tiny_cfg: ModelConfig, synth_frames: list[Frame]) -> None:
    model = VideoKNet(tiny_cfg)
    t = frame_targets(synth_frames[0], tiny_cfg)
    image = image_tensor(synth_frames[0])[None]
    with pytest.raises(ValueError, match="1 key targets for 2 key images"):
        model.training_losses(torch.cat([image, image]), [t], image, [t])
    with pytest.raises(ValueError, match="targets are"):
        model.training_losses(image[..., :32], [t], image[..., :32], [t])
    with pytest.raises(ValueError, match="float"):
        model.training_losses((image * 255).byte(), [t], image, [t])
