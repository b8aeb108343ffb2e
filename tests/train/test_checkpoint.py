"""Checkpoints: round trips give identical outputs; every loading problem is one clear error."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from vkstream.data import CITYSCAPES, LabelSpace
from vkstream.launch.errors import expected_error_message
from vkstream.models import ModelConfig, VideoKNet
from vkstream.train import CheckpointError, export_checkpoint, load_model
from vkstream.train.checkpoint import FORMAT, checkpoint_payload, config_differences, write_checkpoint


def _outputs(model: VideoKNet, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
    with torch.no_grad():
        return model(
            images, model.empty_previous(images.shape[0]), torch.zeros(images.shape[0], dtype=torch.bool)
        )


def _save(model_cfg: ModelConfig, path: Path, seed: int = 0) -> VideoKNet:
    torch.manual_seed(seed)
    model = VideoKNet(model_cfg).eval()
    write_checkpoint(checkpoint_payload(model, model_cfg, metadata={"step": 7}), path)
    return model


def _error(path: Path, **kwargs) -> str:
    with pytest.raises(CheckpointError) as caught:
        load_model(path, **kwargs)
    message = expected_error_message(caught.value)
    assert message is not None and "\n" not in message
    return message


def test_round_trip_gives_identical_outputs(tmp_path: Path, tiny_model) -> None:
    cfg = tiny_model()
    original = _save(cfg, tmp_path / "a.pt")
    loaded, loaded_cfg, metadata = load_model(tmp_path / "a.pt", expected=cfg)
    assert loaded_cfg == cfg and not loaded.training
    assert metadata["step"] == 7 and metadata["kind"] == "training" and metadata["num_classes"] == 19
    images = torch.rand(2, 3, 64, 96, generator=torch.Generator().manual_seed(1))
    for a, b in zip(_outputs(original, images), _outputs(loaded, images), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_export_is_half_the_size_and_loads_back_close(tmp_path: Path, tiny_model) -> None:
    cfg = tiny_model()
    original = _save(cfg, tmp_path / "full.pt")
    size = export_checkpoint(tmp_path / "full.pt", tmp_path / "slim.pt")
    assert size == (tmp_path / "slim.pt").stat().st_size
    weights = sum(t.numel() for t in original.state_dict().values() if t.is_floating_point())
    assert size < 2 * weights + 200_000  # two bytes a weight, plus names and config
    payload = torch.load(tmp_path / "slim.pt", weights_only=True)
    assert payload["kind"] == "export" and "training" not in payload
    assert {t.dtype for t in payload["state_dict"].values() if t.is_floating_point()} == {torch.float16}
    loaded, _, metadata = load_model(tmp_path / "slim.pt", expected=cfg)
    assert metadata["weights_dtype"] == "float16"
    assert all(p.dtype == torch.float32 for p in loaded.parameters())
    images = torch.rand(1, 3, 64, 96, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(
        _outputs(original, images)[1], _outputs(loaded, images)[1], rtol=0.05, atol=0.05
    )


def test_missing_or_not_a_file(tmp_path: Path) -> None:
    assert _error(tmp_path / "nope.pt") == f"checkpoint not found: {tmp_path / 'nope.pt'}"
    assert _error(tmp_path) == f"checkpoint path is not a file: {tmp_path}"


def test_not_a_checkpoint_or_corrupt(tmp_path: Path, tiny_model) -> None:
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"\x00not a torch file" * 10)
    assert _error(garbage).startswith(f"{garbage}: not a vkstream checkpoint or corrupt (")

    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {"w": torch.zeros(2)}}, foreign)
    assert _error(foreign) == f"{foreign}: not a vkstream checkpoint (no '{FORMAT}' marker)"

    pickled = tmp_path / "pickled.pt"
    torch.save({"format": FORMAT, "object": Path("x")}, pickled)
    assert "holds Python objects besides weights" in _error(pickled)

    _save(tiny_model(), tmp_path / "good.pt")
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes((tmp_path / "good.pt").read_bytes()[:5000])
    assert _error(truncated).startswith(f"{truncated}: not a vkstream checkpoint or corrupt (")

    lacking = tmp_path / "lacking.pt"
    torch.save({"format": FORMAT, "version": 1, "kind": "export", "metadata": {}}, lacking)
    assert _error(lacking) == f"{lacking}: corrupt vkstream checkpoint, it lacks model_config, state_dict"

    newer = tmp_path / "newer.pt"
    torch.save({"format": FORMAT, "version": 99}, newer)
    assert "format 99 is newer than this vkstream reads" in _error(newer)


def test_another_class_count_names_both_counts(tmp_path: Path, tiny_model) -> None:
    _save(tiny_model(), tmp_path / "c.pt")
    message = _error(tmp_path / "c.pt", expected=tiny_model(num_classes=5, thing_classes=(1, 2)))
    assert message == f"{tmp_path / 'c.pt'}: checkpoint predicts 19 classes but the config has 5"


def test_another_config_names_the_differing_keys(tmp_path: Path, tiny_model) -> None:
    _save(tiny_model(), tmp_path / "c.pt")
    wanted = tiny_model(neck_channels=32, tracker={"memory_frames": 9})
    message = _error(tmp_path / "c.pt", expected=wanted)
    assert message.startswith(f"{tmp_path / 'c.pt'}: checkpoint was trained with another model config: ")
    assert "neck_channels (checkpoint 16, config 32)" in message
    assert "tracker.memory_frames (checkpoint 5, config 9)" in message
    assert config_differences({"a": {"b": 1.0}}, {"a": {"b": 1}}) == []


def test_weights_of_another_architecture_are_named(tmp_path: Path, tiny_model) -> None:
    cfg = tiny_model()
    model = VideoKNet(cfg)
    payload = checkpoint_payload(model, cfg)
    state = payload["state_dict"]
    dropped = next(iter(state))
    del state[dropped]
    reshaped = next(name for name, t in state.items() if t.ndim == 2)
    state[reshaped] = torch.zeros(3, 3)
    state["extra.weight"] = torch.zeros(1)
    write_checkpoint(payload, tmp_path / "arch.pt")
    message = _error(tmp_path / "arch.pt")
    assert message.startswith(f"{tmp_path / 'arch.pt'}: weights do not fit the model architecture: ")
    assert f"1 weights missing ({dropped})" in message
    assert "1 unknown weights (extra.weight)" in message
    assert f"{reshaped} (3, 3) vs" in message


def test_a_stored_config_this_version_cannot_read(tmp_path: Path, tiny_model) -> None:
    cfg = tiny_model()
    payload = checkpoint_payload(VideoKNet(cfg), cfg)
    payload["model_config"]["num_queries"] = 5
    write_checkpoint(payload, tmp_path / "old.pt")
    message = _error(tmp_path / "old.pt")
    expected = (
        "its model config does not fit this vkstream version: num_queries: Extra inputs are not permitted"
    )
    assert message == f"{tmp_path / 'old.pt'}: {expected}"


def test_overrides_change_only_settings_without_weights(tmp_path: Path, tiny_model) -> None:
    _save(tiny_model(), tmp_path / "c.pt")
    _, cfg, _ = load_model(tmp_path / "c.pt", overrides={"association": "mask_iou"})
    assert cfg.association == "mask_iou"
    assert "weights do not fit" in _error(tmp_path / "c.pt", overrides={"embed_dim": 8})
    assert _error(tmp_path / "c.pt", overrides={"bogus": 1}) == "unknown model config keys to override: bogus"


def test_the_label_space_travels_in_the_checkpoint_and_its_export(tmp_path: Path, tiny_model) -> None:
    cfg = tiny_model(num_classes=4, thing_classes=(1, 3))
    labels = LabelSpace.build(["floor", "robot", "wall", "cart"], [1, 3])
    write_checkpoint(checkpoint_payload(VideoKNet(cfg), cfg, labels=labels), tmp_path / "a.pt")
    export_checkpoint(tmp_path / "a.pt", tmp_path / "slim.pt")
    for name in ("a.pt", "slim.pt"):
        assert load_model(tmp_path / name)[2]["label_space"] == labels
    # a checkpoint that names no label space: the Cityscapes classes for 19 classes, else numbered ones
    payload = checkpoint_payload(VideoKNet(cfg), cfg)
    assert LabelSpace.from_json(payload["label_space"]).names == ("class 0", "class 1", "class 2", "class 3")
    del payload["label_space"]
    write_checkpoint(payload, tmp_path / "old.pt")
    assert load_model(tmp_path / "old.pt")[2]["label_space"].thing_ids == (1, 3)
    assert (
        _save(tiny_model(), tmp_path / "c.pt")
        and load_model(tmp_path / "c.pt")[2]["label_space"] == CITYSCAPES
    )
    with pytest.raises(CheckpointError, match=r"label space of 4 classes \(things \[1\]\) does not fit"):
        checkpoint_payload(VideoKNet(cfg), cfg, labels=LabelSpace.build(["a", "b", "c", "d"], [1]))
