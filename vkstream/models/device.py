"""Device names (``auto``, ``cpu``, ``cuda``, ``cuda:N``): checking them, and the torch device they mean.

The one place for this rule: configs check names with :func:`check_device_name` without importing
torch, and whatever runs the model (training, prediction, the graph's model nodes, benchmarks) turns a
name into a device with :func:`resolve_device`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

DEVICE_NAMES = "auto, cpu, cuda or cuda:N"
_NAME = re.compile(r"auto|cpu|cuda(:[0-9]+)?")


def check_device_name(name: object) -> str:
    """``name`` itself if it is a device name; ValueError otherwise."""
    if not isinstance(name, str):
        raise ValueError(f"device must be a string ({DEVICE_NAMES}), got {name!r}")
    if _NAME.fullmatch(name) is None:
        raise ValueError(f"unknown device {name!r}; use {DEVICE_NAMES}")
    return name


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA when torch sees a GPU, else the CPU; ``cuda``/``cuda:N`` only if that GPU exists."""
    import torch

    check_device_name(name)
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise ValueError(f"device {name!r} requested but torch sees no CUDA GPU (use cpu)")
    device = torch.device(name)
    index = torch.cuda.current_device() if device.index is None else device.index
    if index >= torch.cuda.device_count():
        raise ValueError(f"device {name!r} requested but torch sees {torch.cuda.device_count()} CUDA GPU(s)")
    return torch.device("cuda", index)
