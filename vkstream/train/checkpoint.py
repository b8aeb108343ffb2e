"""Checkpoint files: resumable training state, slim fp16 exports, and loading either into a model.

A checkpoint is a ``torch.save`` dictionary marked ``format: vkstream-checkpoint``, holding the model's
weights and the ModelConfig that builds it, so a file alone is enough to rebuild the network. Files
are read with ``weights_only=True``: loading one runs no code from it.
"""

from __future__ import annotations

import math
import os
import pickle
import zipfile
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from pydantic import ValidationError

from vkstream import __version__
from vkstream.models import ModelConfig, VideoKNet
from vkstream.train.errors import CheckpointError

FORMAT = "vkstream-checkpoint"
FORMAT_VERSION = 1
TRAINING, EXPORT = "training", "export"
_REQUIRED = ("kind", "model_config", "state_dict", "metadata")
_SHOWN = 4
"""How many differing keys or weight names an error message lists before summarising the rest."""


def write_checkpoint(payload: Mapping[str, Any], path: str | os.PathLike[str]) -> int:
    """Write atomically (a crash mid-write leaves the previous file intact); returns the size in bytes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    torch.save(dict(payload), partial)
    os.replace(partial, path)
    return path.stat().st_size


def checkpoint_payload(
    model: torch.nn.Module,
    config: ModelConfig,
    *,
    kind: str = TRAINING,
    metadata: Mapping[str, Any] | None = None,
    training: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The dictionary a checkpoint file holds; ``training`` is the state a resume needs."""
    payload: dict[str, Any] = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "kind": kind,
        "model_config": config.model_dump(mode="json"),
        "state_dict": model.state_dict(),
        "metadata": {
            "vkstream_version": __version__,
            "torch_version": str(torch.__version__),
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "num_classes": config.num_classes,
            **(metadata or {}),
        },
    }
    if training is not None:
        payload["training"] = dict(training)
    return payload


def read_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The checkpoint's dictionary, on the CPU; CheckpointError if it is missing or not one of ours."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint not found: {path}")
    if not path.is_file():
        raise CheckpointError(f"checkpoint path is not a file: {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if "Unsupported global" in str(err):
            reason = "it holds Python objects besides weights and plain data, which are not loaded"
            raise CheckpointError(f"{path}: not a vkstream checkpoint ({reason})") from err
        raise CheckpointError(f"{path}: not a vkstream checkpoint or corrupt (unreadable data)") from err
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile, ValueError) as err:
        raise CheckpointError(f"{path}: not a vkstream checkpoint or corrupt ({_first_line(err)})") from err
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a vkstream checkpoint (no '{FORMAT}' marker)")
    version = payload.get("version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format {version!r} is newer than this vkstream reads ({FORMAT_VERSION})"
        )
    missing = [key for key in _REQUIRED if key not in payload]
    if missing:
        raise CheckpointError(f"{path}: corrupt vkstream checkpoint, it lacks {', '.join(missing)}")
    return payload


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return " ".join(text.splitlines()[0].split())[:120] if text else type(err).__name__


def stored_model_config(payload: Mapping[str, Any], path: str | os.PathLike[str]) -> ModelConfig:
    """The ModelConfig a checkpoint was trained with, validated against this version's schema."""
    try:
        return ModelConfig.model_validate(payload["model_config"])
    except ValidationError as err:
        first = err.errors(include_url=False)[0]
        key = ".".join(str(part) for part in first.get("loc", ())) or "model config"
        raise CheckpointError(
            f"{path}: its model config does not fit this vkstream version: {key}: {first.get('msg')}"
        ) from err


def config_differences(stored: Any, wanted: Any, prefix: str = "") -> list[str]:
    """``key (checkpoint A, config B)`` for every dotted key whose value differs between two dumps."""
    if isinstance(stored, dict) and isinstance(wanted, dict):
        found = []
        for key in sorted(set(stored) | set(wanted), key=str):
            name = f"{prefix}.{key}" if prefix else str(key)
            if key not in stored or key not in wanted:
                where = "checkpoint" if key in stored else "config"
                found.append(f"{name} (only in the {where})")
            else:
                found.extend(config_differences(stored[key], wanted[key], name))
        return found
    if stored == wanted or _same_float(stored, wanted):
        return []
    return [f"{prefix} (checkpoint {stored!r}, config {wanted!r})"]


def _same_float(a: Any, b: Any) -> bool:
    numbers = (int, float)
    both = isinstance(a, numbers) and isinstance(b, numbers) and not isinstance(a, bool | type(None))
    return both and math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=0.0)


def check_model_config(stored: ModelConfig, wanted: ModelConfig, path: str | os.PathLike[str]) -> None:
    """CheckpointError naming what differs when a checkpoint was made for another model config."""
    if stored.num_classes != wanted.num_classes:
        raise CheckpointError(
            f"{path}: checkpoint predicts {stored.num_classes} classes "
            f"but the config has {wanted.num_classes}"
        )
    differences = config_differences(stored.model_dump(mode="json"), wanted.model_dump(mode="json"))
    if differences:
        raise CheckpointError(
            f"{path}: checkpoint was trained with another model config: {_listing(differences)}"
        )


def _listing(items: list[str]) -> str:
    shown = "; ".join(items[:_SHOWN])
    return shown + (f"; and {len(items) - _SHOWN} more" if len(items) > _SHOWN else "")


def load_weights(model: torch.nn.Module, state: Mapping[str, Any], path: str | os.PathLike[str]) -> None:
    """Load ``state`` (any float dtype) into ``model``; CheckpointError names missing or misshapen weights."""
    own = model.state_dict()
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path}: corrupt vkstream checkpoint, its weights are not a tensor mapping")
    missing = [name for name in own if name not in state]
    unexpected = [name for name in state if name not in own]
    reshaped = [
        f"{name} {tuple(state[name].shape)} vs {tuple(own[name].shape)}"
        for name in own
        if name in state and state[name].shape != own[name].shape
    ]
    problems = []
    if missing:
        problems.append(f"{len(missing)} weights missing ({_listing(missing)})")
    if unexpected:
        problems.append(f"{len(unexpected)} unknown weights ({_listing(unexpected)})")
    if reshaped:
        problems.append(f"{len(reshaped)} of another shape, checkpoint vs model ({_listing(reshaped)})")
    if problems:
        raise CheckpointError(f"{path}: weights do not fit the model architecture: {', '.join(problems)}")
    model.load_state_dict(state)  # copies convert fp16 exports back to the model's dtype


def load_model(
    path: str | os.PathLike[str],
    device: str | torch.device = "cpu",
    *,
    expected: ModelConfig | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> tuple[VideoKNet, ModelConfig, dict[str, Any]]:
    """Build the checkpoint's model on ``device`` in eval mode: (model, its config, metadata).

    ``expected``: the config the caller needs; any difference is a CheckpointError naming the keys.
    ``overrides``: top-level ModelConfig keys to change that leave the weights as they are (e.g. the
    tracker's ``association``); a key that changes the weights fails the same way as another architecture.
    """
    payload = read_checkpoint(path)
    config = stored_model_config(payload, path)
    if expected is not None:
        check_model_config(config, expected, path)
    if overrides:
        unknown = sorted(set(overrides) - set(ModelConfig.model_fields))
        if unknown:
            raise CheckpointError(f"unknown model config keys to override: {', '.join(unknown)}")
        config = ModelConfig.model_validate({**config.model_dump(mode="json"), **overrides})
    model = VideoKNet(config)
    load_weights(model, payload["state_dict"], path)
    model.to(device).eval()
    metadata = dict(payload["metadata"])
    metadata["kind"] = payload["kind"]
    return model, config, metadata


def export_payload(payload: Mapping[str, Any], dtype: torch.dtype = torch.float16) -> dict[str, Any]:
    """A shipping checkpoint: weights in ``dtype`` (floats only), config and metadata; no training state."""
    state = {
        name: tensor.to(dtype) if tensor.is_floating_point() else tensor
        for name, tensor in payload["state_dict"].items()
    }
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "kind": EXPORT,
        "model_config": payload["model_config"],
        "state_dict": state,
        "metadata": {**payload["metadata"], "weights_dtype": str(dtype).removeprefix("torch.")},
    }


def export_checkpoint(
    source: str | os.PathLike[str], destination: str | os.PathLike[str], dtype: torch.dtype = torch.float16
) -> int:
    """Write the slim export of checkpoint ``source`` to ``destination``; returns its size in bytes."""
    return write_checkpoint(export_payload(read_checkpoint(source), dtype), destination)
