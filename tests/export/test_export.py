"""Exported stages (torch.export programs, AOTInductor packages) give the labels the eager model gives."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from vkstream.data.labels import LabelSpace
from vkstream.export import ExportError, export_model, is_export_dir, load_export, read_manifest
from vkstream.models import OnlineVideoKNet, VideoKNet, preset

SIZE = (64, 96)  # H, W


def model_of(name: str) -> VideoKNet:
    torch.manual_seed(0)
    return VideoKNet(preset(name)).eval()


def labels_of(name: str) -> LabelSpace:
    cfg = preset(name)
    return LabelSpace.for_classes(cfg.num_classes, cfg.thing_classes)


def same_outputs(eager: OnlineVideoKNet, exported: OnlineVideoKNet, batch: int) -> None:
    torch.manual_seed(1)
    first = torch.rand(batch, 3, *SIZE)
    second = (first + 0.05 * torch.rand_like(first)).clamp(0, 1)
    states_a = states_b = [None] * batch
    for images in (first, second):  # the second frame links to the first and tracks
        a, states_a = eager.step(images, states_a)
        b, states_b = exported.step(images, states_b)
        for x, y in zip(a, b, strict=True):
            assert torch.equal(x.semantic, y.semantic)
            assert torch.equal(x.track, y.track)
            torch.testing.assert_close(x.depth, y.depth, rtol=1e-3, atol=1e-2)


@pytest.mark.parametrize(("name", "batches"), [("synth_small", (1, 2)), ("kitti_r50", (1,))])
def test_exported_programs_give_the_eager_labels(name: str, batches: tuple[int, ...], tmp_path: Path) -> None:
    model = model_of(name)
    manifest = export_model(model, labels_of(name), tmp_path, image_size=SIZE, batch_sizes=batches)
    assert is_export_dir(tmp_path)
    assert manifest.files["kernel_head"] == {b: f"kernel_head_b{b}.pt2" for b in batches}
    exported, read = load_export(tmp_path)
    assert read.config == model.cfg and read.format == "exported" and read.image_size == SIZE
    # A batch of 3 runs as chunks of the largest exported batch size.
    same_outputs(OnlineVideoKNet(model), exported, 3 if len(batches) > 1 else 1)
    with pytest.raises(ValueError, match="exported for 96x64 frames, got 96x60"):
        exported.step(torch.rand(1, 3, 60, 96), [None])


def test_aoti_packages_give_the_eager_labels(tmp_path: Path) -> None:
    model = model_of("synth_small")
    export_model(model, labels_of("synth_small"), tmp_path, image_size=SIZE, batch_sizes=(1,), fmt="aoti")
    exported, manifest = load_export(tmp_path)
    assert manifest.format == "aoti"
    same_outputs(OnlineVideoKNet(model), exported, 1)


def test_bad_exports_are_one_line_errors(tmp_path: Path) -> None:
    model = model_of("tiny")
    with pytest.raises(ExportError, match="unknown export format 'onnx'"):
        export_model(model, labels_of("tiny"), tmp_path / "a", image_size=SIZE, fmt="onnx")  # type: ignore[arg-type]
    with pytest.raises(ExportError, match="too small"):
        export_model(model, labels_of("tiny"), tmp_path / "a", image_size=(16, 16))
    with pytest.raises(ExportError, match="not an export directory"):
        read_manifest(tmp_path)
    export_model(model, labels_of("tiny"), tmp_path / "ok", image_size=SIZE, batch_sizes=(1,))
    (tmp_path / "ok" / "depth_head_b1.pt2").unlink()
    with pytest.raises(ExportError, match=r"depth_head_b1.pt2 \(depth_head, batch 1\) is missing"):
        load_export(tmp_path / "ok")
    manifest = tmp_path / "ok" / "manifest.json"
    # the earlier formats' stages split the network otherwise
    for earlier in ("vkstream-export/1", "vkstream-export/2"):
        manifest.write_text(json.dumps({"manifest": earlier}))
        with pytest.raises(
            ExportError, match=r"exported by an earlier vkstream.*export the checkpoint again"
        ):
            load_export(tmp_path / "ok")
    manifest.write_text(json.dumps({"manifest": "something else"}))
    with pytest.raises(ExportError, match="corrupt export manifest"):
        load_export(tmp_path / "ok")
    if not torch.cuda.is_available():
        with pytest.raises(ExportError, match=r"the tensorrt format needs .*a CUDA GPU"):
            export_model(model, labels_of("tiny"), tmp_path / "trt", image_size=SIZE, fmt="tensorrt")


def test_one_loader_takes_a_checkpoint_or_an_export_directory(tmp_path: Path) -> None:
    from vkstream.models.options import StageOptions
    from vkstream.train import CheckpointError
    from vkstream.train.checkpoint import checkpoint_payload, load_online, write_checkpoint

    model = model_of("tiny")
    write_checkpoint(checkpoint_payload(model, model.cfg), tmp_path / "tiny.pt")
    export_model(model, labels_of("tiny"), tmp_path / "exported", image_size=SIZE, batch_sizes=(1,))
    from_file, config, metadata = load_online(tmp_path / "tiny.pt", options=StageOptions(channels_last=True))
    assert from_file.stages["backbone_neck"].options.channels_last and config == model.cfg
    exported, config, metadata = load_online(tmp_path / "exported", overrides={"association": "mask_iou"})
    assert exported.cfg.association == "mask_iou" == config.association
    assert metadata["label_space"] == labels_of("tiny") and metadata["format"] == "exported"
    same_outputs(OnlineVideoKNet(model_of("tiny")), load_online(tmp_path / "exported")[0], 1)
    with pytest.raises(CheckpointError, match="precision and compile do not apply"):
        load_online(tmp_path / "exported", options=StageOptions(precision="bf16"))
    with pytest.raises(CheckpointError, match="cannot change num_stages"):
        load_online(tmp_path / "exported", overrides={"num_stages": 1})
