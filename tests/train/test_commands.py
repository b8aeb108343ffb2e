"""``vkstream train`` and ``vkstream predict`` end to end, through the real command line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from vkstream.data import NUM_CLASSES, VOID, LabelSpace, open_dataset
from vkstream.launch.cli import main
from vkstream.models import VideoKNet
from vkstream.train.checkpoint import checkpoint_payload, write_checkpoint

REPO = Path(__file__).resolve().parents[2]


def _write_config(path: Path, cfg) -> Path:
    path.write_text(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False))
    return path


@pytest.fixture(scope="module")
def trained(synth_root: Path, tmp_path_factory: pytest.TempPathFactory, request) -> Path:
    """A run folder trained by ``vkstream train`` for two steps."""
    tiny_config = request.getfixturevalue("tiny_config")
    folder = tmp_path_factory.mktemp("trained")
    config = _write_config(folder / "tiny.yaml", tiny_config(synth_root, val={"max_frames": 2}))
    run = folder / "run"
    assert main(["train", str(config), "--out", str(run), "--steps", "2", "--no-progress", "-q"]) == 0
    return run


def test_train_writes_a_run_and_resume_extends_it(trained: Path, cli, tmp_path: Path) -> None:
    assert (trained / "model.pt").is_file() and (trained / "checkpoints" / "best.pt").is_file()
    extended = cli(
        "train", trained / "config.yaml", "--resume", trained, "--steps", "3", "--no-progress", "-q"
    )
    assert extended.code == 0, extended.err
    assert "trained steps 2-3 on cpu" in extended.out
    assert (trained / "checkpoints" / "step_0000003.pt").is_file()


def test_train_errors_are_one_line(trained: Path, synth_root: Path, cli, tmp_path: Path, tiny_config) -> None:
    config = trained / "config.yaml"
    again = cli("train", config, "--out", trained, "--no-progress")
    assert "already holds a run" in again.one_line_error("vkstream train")
    assert (
        cli("train", config, "--steps", "0").one_line_error("vkstream train")
        == "invalid --steps 0: must be at least 1"
    )
    missing = cli("train", config, "--resume", tmp_path / "nothing")
    assert missing.one_line_error("vkstream train") == f"checkpoint not found: {tmp_path / 'nothing'}"
    empty = cli("train", config, "--resume", tmp_path)
    assert empty.one_line_error("vkstream train").startswith(f"{tmp_path}: no checkpoints to resume from")
    typo = tmp_path / "typo.yaml"
    typo.write_text("schedule:\n  stepz: 3\n")
    message = cli("train", typo).one_line_error("vkstream train")
    assert message == f"{typo}: unknown key 'schedule.stepz' (did you mean 'steps'?)"
    no_data = _write_config(
        tmp_path / "no_data.yaml",
        tiny_config(synth_root, data={"train": [{"root": str(tmp_path / "absent")}]}),
    )
    assert "dataset folder not found" in cli("train", no_data).one_line_error("vkstream train")


def test_predict_writes_a_dataset_the_readers_read_back(
    trained: Path, synth_root: Path, cli, tmp_path: Path
) -> None:
    out = tmp_path / "pred"
    done = cli(
        "predict",
        "--checkpoint",
        trained / "model.pt",
        "--data",
        synth_root,
        "--split",
        "val",
        "--out",
        out,
        "--threads",
        "1",
        "--no-progress",
    )
    assert done.code == 0, done.err
    assert "wrote predictions for 4 frames in 1 sequence(s)" in done.out
    truth = open_dataset(synth_root, split="val")
    predicted = open_dataset(out, split="val")
    assert predicted.layout == "semkitti-dvps" and predicted.sequences == truth.sequences
    for gt, pred in zip(truth, predicted, strict=True):
        assert (pred.sequence, pred.index) == (gt.sequence, gt.index)
        assert pred.image is None and pred.size == gt.size
        assert (
            pred.semantic is not None
            and pred.semantic.max() < NUM_CLASSES
            and not (pred.semantic == VOID).any()
        )
        assert pred.instance is not None and pred.instance.dtype == np.uint16
        assert pred.depth is not None and (pred.depth > 0).all()
        assert pred.intrinsics == gt.intrinsics


def test_predict_other_layout_association_and_sequence(
    trained: Path, synth_root: Path, cli, tmp_path: Path
) -> None:
    out = tmp_path / "pred"
    done = cli(
        "predict", "--checkpoint", trained / "checkpoints" / "best.pt", "--data", synth_root, "--out", out,
        "--out-layout", "kitti-step", "--association", "mask_iou", "--sequence", "000001",
        "--threads", "1", "--no-progress",
    )  # fmt: skip
    assert done.code == 0, done.err
    assert "mask_iou association" in done.out
    predicted = open_dataset(out, split="train")
    assert predicted.layout == "kitti-step" and predicted.sequences == ["0001"]
    assert predicted.num_frames("0001") == 6


def test_predict_errors_are_one_line(
    trained: Path, synth_root: Path, cli, tmp_path: Path, tiny_model
) -> None:
    model = trained / "model.pt"

    def error(*argv) -> str:
        return cli("predict", *argv).one_line_error("vkstream predict")

    assert error("--checkpoint", tmp_path / "x.pt", "--data", synth_root, "--out", tmp_path / "o") == (
        f"checkpoint not found: {tmp_path / 'x.pt'}"
    )
    assert error("--checkpoint", model, "--data", tmp_path / "none", "--out", tmp_path / "o") == (
        f"dataset folder not found: {tmp_path / 'none'}"
    )
    assert error("--checkpoint", model, "--data", synth_root, "--out", synth_root).endswith(
        "is the input dataset; predictions would overwrite its labels"
    )
    assert "no sequence 7" in error(
        "--checkpoint", model, "--data", synth_root, "--out", tmp_path / "o", "--sequence", "7"
    )
    assert "invalid --split '../x'" in error(
        "--checkpoint", model, "--data", synth_root, "--out", tmp_path / "o", "--split", "../x"
    )
    assert "not a vkstream checkpoint" in error(
        "--checkpoint", trained / "config.yaml", "--data", synth_root, "--out", tmp_path / "o"
    )
    # A model of other classes predicts in its own label space, written beside its predictions.
    other_classes = tiny_model(num_classes=5, thing_classes=(1, 2))
    labels = LabelSpace.build(["floor", "cart", "robot", "shelf", "wall"], [1, 2])
    write_checkpoint(
        checkpoint_payload(VideoKNet(other_classes), other_classes, labels=labels), tmp_path / "five.pt"
    )
    five = cli(
        "predict", "--checkpoint", tmp_path / "five.pt", "--data", synth_root, "--out", tmp_path / "five"
    )
    assert five.code == 0, five.err
    assert LabelSpace.from_json(json.loads((tmp_path / "five" / "labels.json").read_text())) == labels
    predicted = open_dataset(tmp_path / "five")
    frame = next(predicted.frames(predicted.sequences[0]))
    assert int(frame.semantic.max()) < 5
    bad_split = error("--checkpoint", model, "--data", synth_root, "--out", tmp_path / "o", "--split", "test")
    assert "not a SemKITTI-DVPS test split" in bad_split


@pytest.mark.parametrize("name", ["synth_small", "synth_small_finetune", "kitti_step_r50"])
def test_shipped_training_configs_are_valid(name: str, cli) -> None:
    path = REPO / "configs" / "model" / f"{name}.yaml"
    checked = cli("config", "check", "train", path)
    assert checked.code == 0, checked.err
    shown = cli("config", "show", "train", path)
    assert shown.code == 0 and "backbone_lr_mult" in shown.out
