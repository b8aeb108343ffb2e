"""Stages run with other precisions, compiled or padded to batch buckets give the eager fp32 outputs."""

from __future__ import annotations

import logging

import pytest
import torch

from tests.models.conftest import confident_model, image_tensor
from vkstream.data.frame import Frame
from vkstream.models import FrameResult, ModelConfig, OnlineVideoKNet
from vkstream.models.options import StageOptions
from vkstream.models.stages import BATCH_BUCKETS, Stage, bucket_for, native_bf16, resolve_precision


@pytest.fixture(scope="module")
def eager(tiny_cfg: ModelConfig) -> OnlineVideoKNet:
    return OnlineVideoKNet(confident_model(tiny_cfg))


def run(online: OnlineVideoKNet, frames: list[Frame], batch: int = 1) -> list[FrameResult]:
    """The frames as ``batch`` streams of the same sequence (stream i flips its images if i is odd)."""
    states = [None] * batch
    out = []
    for frame in frames:
        image = image_tensor(frame)
        images = torch.stack([image.flip(-1) if i % 2 else image for i in range(batch)])
        results, states = online.step(images, states)
        out += results
    return out


def test_buckets() -> None:
    assert [bucket_for(b) for b in (1, 2, 3, 4, 5, 8, 9)] == [1, 2, 4, 4, 8, 8, 8]
    assert BATCH_BUCKETS == (1, 2, 4, 8)


def test_padded_batches_are_cut_back_and_big_ones_chunked(tiny_cfg: ModelConfig) -> None:
    model = confident_model(tiny_cfg)
    calls = []

    def head(x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        calls.append(x.shape[0])
        return (x * 2, x.sum((1, 2, 3)).long())

    stage = Stage("double", dict.fromkeys(BATCH_BUCKETS, head), torch.device("cpu"))
    x = torch.rand(11, 3, 4, 4)
    doubled, sums = stage(x)
    assert calls == [8, 4] and doubled.shape == x.shape and sums.dtype == torch.long
    torch.testing.assert_close(doubled, x * 2)
    del model


def test_an_fp32_compiled_stage_gives_the_eager_labels(
    eager: OnlineVideoKNet, tiny_cfg: ModelConfig, synth_frames: list[Frame]
) -> None:
    """The kernel head compiled by inductor, fed padded batches (3 frames run as a batch of 4).

    Compiling the backbone too takes minutes on a 2-core CPU; benchmarks/ compile every stage.
    """
    options = {"kernel_head": StageOptions(compile="default")}
    compiled = OnlineVideoKNet(confident_model(tiny_cfg), options)
    assert compiled.stages["kernel_head"].buckets == BATCH_BUCKETS
    for a, b in zip(run(eager, synth_frames[:3], 3), run(compiled, synth_frames[:3], 3), strict=True):
        assert torch.equal(a.semantic, b.semantic)
        assert torch.equal(a.track, b.track)
        torch.testing.assert_close(a.depth, b.depth, rtol=1e-4, atol=1e-3)


def test_channels_last_gives_the_eager_labels(
    eager: OnlineVideoKNet, tiny_cfg: ModelConfig, synth_frames: list[Frame]
) -> None:
    nhwc = OnlineVideoKNet(confident_model(tiny_cfg), StageOptions(channels_last=True))
    for a, b in zip(run(eager, synth_frames[:2]), run(nhwc, synth_frames[:2]), strict=True):
        assert torch.equal(a.semantic, b.semantic) and torch.equal(a.track, b.track)


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_reduced_precision_stays_within_its_tolerance(
    eager: OnlineVideoKNet, tiny_cfg: ModelConfig, synth_frames: list[Frame], precision: str
) -> None:
    """docs/model.md's tolerance: >= 95 % of pixels keep their class, depth within 5 % at the median."""
    low = OnlineVideoKNet(confident_model(tiny_cfg), {"backbone_neck": StageOptions(precision=precision)})
    assert low.stages["kernel_head"].options.precision == "fp32"
    for a, b in zip(run(eager, synth_frames[:2]), run(low, synth_frames[:2]), strict=True):
        assert float((a.semantic == b.semantic).float().mean()) >= 0.95
        assert float(((a.depth - b.depth).abs() / a.depth).median()) <= 0.05
        assert b.depth.dtype == torch.float32


def test_warm_up_runs_every_bucket_and_logs_it(
    tiny_cfg: ModelConfig, caplog: pytest.LogCaptureFixture
) -> None:
    seen = []

    def backbone(x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        seen.append(tuple(x.shape))
        return (x,)

    stage = Stage("backbone_neck", dict.fromkeys(BATCH_BUCKETS, backbone), torch.device("cpu"))
    with caplog.at_level(logging.INFO, logger="vkstream.models.stages"):
        seconds = stage.warm_up(lambda b: (torch.zeros(b, 3, 8, 8),))
    assert [s[0] for s in seen] == list(BATCH_BUCKETS) and seconds >= 0
    assert "stage backbone_neck warmed up for batches [1, 2, 4, 8]" in caplog.text
    online = OnlineVideoKNet(confident_model(tiny_cfg))
    assert set(online.warm_up((64, 96))) == {"backbone_neck", "kernel_head", "depth_head"}


def test_unknown_stages_and_options_are_refused(tiny_cfg: ModelConfig) -> None:
    with pytest.raises(ValueError, match="unknown stages neck"):
        OnlineVideoKNet(confident_model(tiny_cfg), {"neck": StageOptions()})
    with pytest.raises(ValueError, match="precision"):
        StageOptions(precision="fp8")  # type: ignore[arg-type]


def test_auto_precision_is_bf16_only_where_the_device_computes_it() -> None:
    cpu = torch.device("cpu")
    stage = Stage("backbone_neck", torch.nn.Identity(), cpu, StageOptions(precision="auto"))
    assert stage.options.precision == ("bf16" if native_bf16(cpu) else "fp32")
    assert resolve_precision(StageOptions(precision="fp16"), cpu).precision == "fp16"  # asked for: kept
