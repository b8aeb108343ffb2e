"""The training config (``vkstream train CONFIG``): data, augmentation, optimiser, schedule, validation, run.

Paths are relative to the working directory the command runs in, as with every other vkstream command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from vkstream.models import ModelConfig
from vkstream.models.device import check_device_name

Device = Annotated[str, AfterValidator(check_device_name)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DataSource(_Strict):
    """One labelled dataset split in a KITTI layout."""

    root: Path = Field(description="dataset root folder")
    layout: Literal["auto", "kitti-step", "semkitti-dvps"] = Field(
        "auto", description="dataset layout; auto detects it from the folders"
    )
    split: str = Field("train", description="split folder to read")
    sequences: list[str] | None = Field(None, description="sequences to use (default: all of the split)")


class AugmentConfig(_Strict):
    """Applied identically to the key and the reference frame of a pair."""

    scale: tuple[float, float] = Field(
        (0.5, 2.0), description="random resize factor range [low, high]; depth values are kept (metres)"
    )
    crop: tuple[int, int] = Field(
        (384, 1248), description="training crop [height, width]; smaller images are padded (void labels)"
    )
    flip: float = Field(0.5, ge=0.0, le=1.0, description="probability of a horizontal flip")

    @field_validator("scale")
    @classmethod
    def _scale_range(cls, value: tuple[float, float]) -> tuple[float, float]:
        low, high = value
        if not 0 < low <= high <= 8:
            raise ValueError(f"must be [low, high] with 0 < low <= high <= 8, got [{low}, {high}]")
        return value

    @field_validator("crop")
    @classmethod
    def _crop_size(cls, value: tuple[int, int]) -> tuple[int, int]:
        if min(value) < 32:
            raise ValueError(f"crop height and width must be at least 32 pixels, got {list(value)}")
        return value


class DataConfig(_Strict):
    train: list[DataSource] = Field(
        default_factory=lambda: [DataSource(root=Path("data/synth/train"))],
        min_length=1,
        description="labelled splits to train on",
    )
    val: list[DataSource] = Field(
        default_factory=lambda: [DataSource(root=Path("data/synth/val"))],
        description="held-out splits for periodic validation (empty: no validation)",
    )
    ref_offsets: list[int] = Field(
        [-2, -1, 1, 2], min_length=1, description="reference frame offsets from the key frame (clamped)"
    )
    augment: AugmentConfig = Field(default_factory=AugmentConfig)
    cache_frames: int = Field(
        512, ge=0, description="decoded frames kept in memory per loader process (0: decode every time)"
    )
    num_workers: int = Field(0, ge=0, le=64, description="data loader processes (0: load in the trainer)")

    @field_validator("ref_offsets")
    @classmethod
    def _nonzero_offsets(cls, value: list[int]) -> list[int]:
        if 0 in value:
            raise ValueError("offsets must be non-zero: the reference frame is another frame than the key")
        return value


class OptimConfig(_Strict):
    """AdamW; norm and bias weights get no weight decay."""

    lr: float = Field(1e-4, gt=0, description="peak learning rate")
    weight_decay: float = Field(0.05, ge=0)
    backbone_lr_mult: float = Field(0.25, ge=0, description="backbone learning rate = lr * this")
    grad_clip: float | None = Field(1.0, gt=0, description="max gradient norm (null: no clipping)")


class ScheduleConfig(_Strict):
    steps: int = Field(20000, ge=1, description="optimiser steps in all")
    batch_size: int = Field(2, ge=1, description="frame pairs per step")
    warmup_steps: int = Field(
        1000, ge=0, description="linear warm-up from warmup_start * lr to lr (at most all steps)"
    )
    warmup_start: float = Field(0.001, gt=0, le=1)
    decay: Literal["cosine", "step"] = Field("step", description="after warm-up: cosine or step decay")
    milestones: list[float] = Field([0.75, 0.917], description="step decay points as fractions of all steps")
    gamma: float = Field(0.1, gt=0, le=1, description="step decay factor")
    min_lr_ratio: float = Field(0.01, ge=0, le=1, description="cosine decay floor, as a fraction of lr")
    time_budget_min: float | None = Field(
        None,
        gt=0,
        description="train for this many minutes of optimiser steps instead of a fixed count: after a "
        "few calibration steps the run sets schedule.steps from the measured step time, so the "
        "learning-rate schedule spans the budget and a resume is exact (validation is not counted)",
    )

    @field_validator("milestones")
    @classmethod
    def _fractions(cls, value: list[float]) -> list[float]:
        if any(not 0 < m < 1 for m in value) or value != sorted(value):
            raise ValueError(f"must be increasing fractions of all steps between 0 and 1, got {value}")
        return value


class ValConfig(_Strict):
    every: int = Field(0, ge=0, description="validate every N steps and at the end (0: only at the end)")
    max_frames: int | None = Field(
        None, ge=1, description="frames per sequence to run (from the start; default: all)"
    )
    metric: Literal["auto", "stq", "dstq", "miou"] = Field(
        "auto", description="metric that picks the best checkpoint (auto: STQ)"
    )


class RunConfig(_Strict):
    out: Path | None = Field(None, description="run folder (default: runs/<config file name>)")
    init_from: Path | None = Field(
        None,
        description="start from this checkpoint's weights (a shipped model.pt or a run's checkpoint; "
        "same architecture) with a fresh optimiser and schedule: fine-tuning",
    )
    seed: int = Field(0, ge=0)
    device: Device = Field("auto", description="auto: CUDA when available, else CPU")
    amp: Literal["off", "bf16", "fp16"] = Field("bf16", description="mixed precision on CUDA (CPU: off)")
    threads: int | None = Field(None, ge=1, description="torch CPU threads (default: torch's choice)")
    log_every: int = Field(50, ge=1, description="log a loss line every N steps when no progress bar shows")
    checkpoint_every: int = Field(500, ge=1, description="save a resumable checkpoint every N steps")
    keep_checkpoints: int = Field(2, ge=1, description="step checkpoints kept on disk (best.pt aside)")


class TrainConfig(_Strict):
    """Everything ``vkstream train`` needs; ``vkstream config show train`` lists it with defaults."""

    model: ModelConfig = Field(default_factory=ModelConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    optim: OptimConfig = Field(default_factory=OptimConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    val: ValConfig = Field(default_factory=ValConfig)
    run: RunConfig = Field(default_factory=RunConfig)
