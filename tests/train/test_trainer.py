"""The training loop: steps, logs, checkpoints, validation, exact resume, schedule and parameter groups."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from vkstream.models import VideoKNet
from vkstream.train import CheckpointError, Trainer, TrainingError, train
from vkstream.train.checkpoint import read_checkpoint
from vkstream.train.config import OptimConfig, ScheduleConfig
from vkstream.train.optim import lr_factor, param_groups


def _records(run: Path) -> tuple[list[dict], list[dict]]:
    lines = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    return [r for r in lines if "loss" in r], [r for r in lines if "validation" in r]


def test_a_few_steps_write_log_checkpoints_validation_and_export(
    synth_root: Path, tmp_path: Path, tiny_config
) -> None:
    run = tmp_path / "run"
    summary = train(tiny_config(synth_root), run)
    steps, validations = _records(run)
    assert [r["step"] for r in steps] == [1, 2, 3, 4]
    for record in steps:
        assert {"loss", "lr", "grad_norm", "seconds", "semantic", "track_ce", "depth_query"} <= set(record)
        parts = sum(
            v
            for k, v in record.items()
            if k not in ("step", "loss", "lr", "grad_norm", "seconds", "data_seconds")
        )
        assert record["loss"] == pytest.approx(parts, rel=1e-4)
    assert [r["step"] for r in validations] == [4]
    metrics = validations[0]["validation"]
    assert 0 <= metrics["miou"] <= 1 and metrics["depth_abs_rel"] > 0 and metrics["frames"] == 3
    assert {"stq", "aq", "sq", "dstq"} <= set(metrics)

    names = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert names == ["best.pt", "step_0000002.pt", "step_0000004.pt"]
    assert summary.best is not None and summary.best[0] == "stq" and summary.best[2] == 4
    payload = read_checkpoint(run / "checkpoints" / "step_0000004.pt")
    assert payload["training"]["step"] == 4 and payload["metadata"]["step"] == 4
    assert summary.export == run / "model.pt" and summary.export_bytes < 25 * 2**20
    assert read_checkpoint(run / "model.pt")["kind"] == "export"
    assert (run / "config.yaml").is_file()
    assert "trained steps 0-4 on cpu" in summary.format()


def test_resume_continues_exactly(synth_root: Path, tmp_path: Path, tiny_config) -> None:
    cfg = tiny_config(synth_root, val={"max_frames": 1})
    straight = tmp_path / "straight"
    train(cfg, straight)
    resumed = tmp_path / "resumed"
    summary = train(cfg, resumed, resume=straight / "checkpoints" / "step_0000002.pt")
    assert summary.first_step == 2
    assert [r["step"] for r in _records(resumed)[0]] == [3, 4]
    assert _records(resumed)[0] == [
        {**r, "seconds": pytest.approx(r["seconds"], abs=1e9), "data_seconds": pytest.approx(0, abs=1e9)}
        for r in _records(straight)[0][2:]
    ]
    a = read_checkpoint(straight / "checkpoints" / "step_0000004.pt")["state_dict"]
    b = read_checkpoint(resumed / "checkpoints" / "step_0000004.pt")["state_dict"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_a_run_folder_is_never_overwritten_and_resume_needs_training_state(
    synth_root: Path, tmp_path: Path, tiny_config, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = tiny_config(synth_root, data={"val": []}, schedule={"steps": 2, "batch_size": 1, "warmup_steps": 0})
    run = tmp_path / "run"
    summary = train(cfg, run)
    assert summary.best is None and summary.export == run / "model.pt"  # export of the last checkpoint
    with pytest.raises(TrainingError, match=r"already holds a run .* --resume"):
        Trainer(cfg, run)
    with pytest.raises(CheckpointError, match="exported checkpoint holds no training state"):
        Trainer(cfg, tmp_path / "other", resume=run / "model.pt")
    other = cfg.model_copy(update={"model": cfg.model.model_copy(update={"embed_dim": 8})})
    with pytest.raises(CheckpointError, match=r"another model config: embed_dim \(checkpoint 16, config 8\)"):
        Trainer(other, tmp_path / "other", resume=run / "checkpoints" / "step_0000002.pt")
    finished = train(cfg, run, resume=run / "checkpoints" / "step_0000002.pt")  # nothing left to do
    assert finished.first_step == finished.steps == 2
    # Merge and tracker settings change no weight: resuming with tuned ones ships them in model.pt.
    tracker = cfg.model.tracker.model_copy(update={"new_score": 0.2, "det_score": 0.2})
    tuned = cfg.model_copy(update={"model": cfg.model.model_copy(update={"tracker": tracker})})
    with caplog.at_level("WARNING", logger="vkstream.train"):
        train(tuned, run, resume=run / "checkpoints" / "step_0000002.pt")
    assert "changed inference settings: tracker.det_score (checkpoint 0.3, config 0.2)" in caplog.text
    shipped = read_checkpoint(run / "model.pt")["model_config"]["tracker"]
    assert shipped["new_score"] == shipped["det_score"] == 0.2


def test_fine_tuning_starts_from_the_weights_with_a_fresh_optimiser(
    synth_root: Path, tmp_path: Path, tiny_config
) -> None:
    cfg = tiny_config(synth_root, data={"val": []}, schedule={"steps": 2, "batch_size": 1, "warmup_steps": 0})
    first = tmp_path / "first"
    train(cfg, first)
    shipped = first / "model.pt"
    losses = cfg.model.losses.model_copy(update={"track_l2": 4.0})  # loss weights may change
    tuned = cfg.model_copy(
        update={
            "run": cfg.run.model_copy(update={"init_from": shipped}),
            "model": cfg.model.model_copy(update={"losses": losses}),
        }
    )
    trainer = Trainer(tuned, tmp_path / "tuned")
    start = read_checkpoint(shipped)["state_dict"]
    own = trainer.model.state_dict()
    assert all(torch.equal(own[k], start[k].to(own[k].dtype)) for k in start)
    assert trainer.step == 0 and not trainer.optimizer.state  # a new run: step 0, no optimiser state
    summary = trainer.fit()
    assert summary.first_step == 0 and summary.steps == 2
    other = tuned.model_copy(update={"model": tuned.model.model_copy(update={"embed_dim": 8})})
    with pytest.raises(CheckpointError, match=r"another model config: embed_dim \(checkpoint 16, config 8\)"):
        Trainer(other, tmp_path / "other")


def test_training_errors_are_clear(synth_root: Path, tmp_path: Path, tiny_config, tiny_model) -> None:
    with pytest.raises(TrainingError, match=r"no sequence 000009 in split train \(found: 000000, 000001\)"):
        Trainer(
            tiny_config(synth_root, data={"train": [{"root": str(synth_root), "sequences": ["000009"]}]}),
            tmp_path,
        )
    exploding = tiny_model(losses={"depth_dense": float("inf")}).model_dump()
    with pytest.raises(TrainingError, match="training diverged at step 5: loss or gradient not finite"):
        train(
            tiny_config(synth_root, model=exploding, schedule={"steps": 6, "warmup_steps": 0}), tmp_path / "x"
        )


def test_the_schedule_warms_up_then_decays() -> None:
    warm = ScheduleConfig(steps=100, warmup_steps=10, warmup_start=0.1, decay="step", milestones=[0.5, 0.8])
    assert lr_factor(0, warm) == pytest.approx(0.1)
    assert lr_factor(5, warm) == pytest.approx(0.55)
    assert [lr_factor(s, warm) for s in (10, 49, 50, 79, 80, 99)] == pytest.approx(
        [1, 1, 0.1, 0.1, 0.01, 0.01]
    )
    cosine = ScheduleConfig(steps=110, warmup_steps=10, decay="cosine", min_lr_ratio=0.0)
    assert [lr_factor(s, cosine) for s in (10, 60, 110)] == pytest.approx([1, 0.5, 0], abs=1e-9)
    short = ScheduleConfig(steps=4, warmup_steps=1000)  # --steps below the warm-up: warm up over all steps
    assert lr_factor(2, short) == pytest.approx(0.001 + 0.999 * 0.5)


def test_backbone_gets_its_lr_multiplier_and_norms_no_decay(tiny_model) -> None:
    model = VideoKNet(tiny_model())
    groups = param_groups(model, OptimConfig(lr=1e-3, weight_decay=0.05, backbone_lr_mult=0.25))
    body = {id(p) for p in model.backbone_neck.body.parameters()}
    for group in groups:
        in_body = {id(p) in body for p in group["params"]}
        assert len(in_body) == 1
        assert group["peak_lr"] == pytest.approx(2.5e-4 if in_body.pop() else 1e-3)
        assert group["weight_decay"] == (0.05 if all(p.ndim > 1 for p in group["params"]) else 0.0)
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))
