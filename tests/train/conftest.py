"""A tiny synthetic dataset (made once per session) and a tiny model config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from vkstream.models import ModelConfig
from vkstream.synth import generate_dataset
from vkstream.train import TrainConfig

WIDTH, HEIGHT = 96, 64
TRAIN_FRAMES, VAL_FRAMES = 6, 4

TINY_MODEL: dict[str, Any] = {
    "backbone": "mobilenetv3_small_050",
    "neck_channels": 16,
    "num_thing_kernels": 6,
    "num_stages": 2,
    "num_heads": 2,
    "ffn_dim": 32,
    "head_dim": 16,
    "embed_dim": 16,
}


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread: None) -> None:
    """Tiny tensors gain nothing from more threads (the shared fixture of tests/conftest.py)."""


@pytest.fixture(scope="session")
def synth_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """SemKITTI-DVPS: split train = 2 sequences x 6 frames (seed 3), split val = 1 x 4 (seed 4)."""
    root = tmp_path_factory.mktemp("synth")
    common = {"layout": "semkitti-dvps", "size": (WIDTH, HEIGHT), "progress": False}
    generate_dataset(root, sequences=2, frames=TRAIN_FRAMES, seed=3, split="train", **common)
    generate_dataset(root, sequences=1, frames=VAL_FRAMES, seed=4, split="val", **common)
    return root


def _tiny_model(**changes: Any) -> ModelConfig:
    return ModelConfig(**{**TINY_MODEL, **changes})


def _tiny_config(root: Path, **sections: dict[str, Any]) -> TrainConfig:
    """A training config of a few CPU steps on ``root``; ``sections`` update its top-level sections."""
    data: dict[str, Any] = {
        "model": TINY_MODEL,
        "data": {
            "train": [{"root": str(root), "split": "train"}],
            "val": [{"root": str(root), "split": "val"}],
            "augment": {"scale": [0.75, 1.25], "crop": [64, 96]},
            "cache_frames": 64,
        },
        "optim": {"lr": 1e-3},
        "schedule": {"steps": 4, "batch_size": 2, "warmup_steps": 1},
        "val": {"max_frames": 3},
        "run": {"device": "cpu", "threads": 1, "checkpoint_every": 2, "keep_checkpoints": 3, "seed": 1},
    }
    for name, values in sections.items():
        data[name] = {**data[name], **values} if isinstance(data[name], dict) else values
    return TrainConfig.model_validate(data)


@pytest.fixture(scope="session")
def tiny_model():
    """``tiny_model(**changes)``: a ModelConfig small enough for CPU tests."""
    return _tiny_model


@pytest.fixture(scope="session")
def tiny_config():
    """``tiny_config(root, **sections)``: see :func:`_tiny_config`."""
    return _tiny_config
