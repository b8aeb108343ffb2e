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
from vkstream.data.labels import LabelSpace
from vkstream.export import ExportError, is_export_dir, load_export
from vkstream.models import ModelConfig, OnlineVideoKNet, VideoKNet
from vkstream.models.fold import fold_backbone
from vkstream.models.options import StageOptions
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
    labels: LabelSpace | None = None,
) -> dict[str, Any]:
    """The dictionary a checkpoint file holds; ``training`` is the state a resume needs.

    ``labels`` names the classes (default: :meth:`LabelSpace.for_classes` of the config).
    """
    labels = labels or LabelSpace.for_classes(config.num_classes, config.thing_classes)
    check_label_space(labels, config, "the label space")
    payload: dict[str, Any] = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "kind": kind,
        "model_config": config.model_dump(mode="json"),
        "state_dict": model.state_dict(),
        "label_space": labels.to_json(),
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


def read_checkpoint(path: str | os.PathLike[str], *, mmap: bool = False) -> dict[str, Any]:
    """The checkpoint's dictionary, on the CPU; CheckpointError if it is missing or not one of ours.

    ``mmap`` maps the file instead of reading it: only the weights used are read from disk.
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint not found: {path}")
    if not path.is_file():
        raise CheckpointError(f"checkpoint path is not a file: {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
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


def check_label_space(labels: LabelSpace, config: ModelConfig, where: object) -> None:
    """CheckpointError unless the label space has the model's classes and thing classes."""
    if labels.num_classes != config.num_classes or labels.thing_ids != tuple(sorted(config.thing_classes)):
        raise CheckpointError(
            f"{where}: label space of {labels.num_classes} classes (things {list(labels.thing_ids)}) does "
            f"not fit the model's {config.num_classes} (things {sorted(config.thing_classes)})"
        )


def stored_label_space(
    payload: Mapping[str, Any], config: ModelConfig, path: str | os.PathLike[str]
) -> LabelSpace:
    """The checkpoint's label space; checkpoints without one get :meth:`LabelSpace.for_classes`."""
    if "label_space" not in payload:
        return LabelSpace.for_classes(config.num_classes, config.thing_classes)
    try:
        labels = LabelSpace.from_json(payload["label_space"])
    except ValueError as err:
        raise CheckpointError(f"{path}: corrupt label space: {err}") from err
    check_label_space(labels, config, path)
    return labels


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

    ``metadata["label_space"]`` is the model's :class:`LabelSpace`.

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
    metadata["label_space"] = stored_label_space(payload, config, path)
    return model, config, metadata


def export_payload(
    payload: Mapping[str, Any], dtype: torch.dtype = torch.float16, runtime: ModelConfig | None = None
) -> dict[str, Any]:
    """A shipping checkpoint: weights in ``dtype`` (floats only), config and metadata; no training state.

    ``runtime``: a config whose :data:`RUNTIME_KEYS` (merge and tracker settings) replace the stored
    ones, so settings tuned after training ship with the weights they were tuned for.
    """
    state = {
        name: tensor.to(dtype) if tensor.is_floating_point() else tensor
        for name, tensor in payload["state_dict"].items()
    }
    model_config = dict(payload["model_config"])
    if runtime is not None:
        model_config.update({k: v for k, v in runtime.model_dump(mode="json").items() if k in RUNTIME_KEYS})
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "kind": EXPORT,
        "model_config": model_config,
        "state_dict": state,
        **({"label_space": payload["label_space"]} if "label_space" in payload else {}),
        "metadata": {**payload["metadata"], "weights_dtype": str(dtype).removeprefix("torch.")},
    }


def export_checkpoint(
    source: str | os.PathLike[str],
    destination: str | os.PathLike[str],
    dtype: torch.dtype = torch.float16,
    runtime: ModelConfig | None = None,
) -> int:
    """Write the slim export of checkpoint ``source`` to ``destination``; returns its size in bytes."""
    return write_checkpoint(export_payload(read_checkpoint(source), dtype, runtime), destination)


def runtime_differences(stored: ModelConfig, wanted: ModelConfig) -> list[str]:
    """The :data:`RUNTIME_KEYS` settings that differ: they change no weight, so a run may change them."""
    a, b = stored.model_dump(mode="json"), wanted.model_dump(mode="json")
    return config_differences({k: a[k] for k in RUNTIME_KEYS}, {k: b[k] for k in RUNTIME_KEYS})


def with_runtime(stored: ModelConfig, wanted: ModelConfig) -> ModelConfig:
    """``stored`` with ``wanted``'s :data:`RUNTIME_KEYS`."""
    return stored.model_copy(update={k: getattr(wanted, k) for k in RUNTIME_KEYS})


RUNTIME_KEYS = ("association", "merge", "tracker")
"""ModelConfig keys that change how a model's outputs are merged and tracked, never its weights."""


def load_online(
    path: str | os.PathLike[str],
    device: str | torch.device = "cpu",
    *,
    options: StageOptions | Mapping[str, StageOptions] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> tuple[OnlineVideoKNet, ModelConfig, dict[str, Any]]:
    """A ready online model from a checkpoint file or an export directory: (model, config, metadata).

    ``options`` sets the stages' precision and compilation (checkpoints only: an export directory
    was compiled when it was written). ``overrides`` changes :data:`RUNTIME_KEYS` (checkpoints accept
    any key :func:`load_model` does). ``metadata["label_space"]`` is the model's label space.
    """
    if not is_export_dir(path):
        model, config, metadata = load_model(path, device, overrides=overrides)
        fold_backbone(model.backbone_neck)  # loaded (in eval mode) to run, never to train
        return OnlineVideoKNet(model, options), config, metadata
    if options is not None:
        raise CheckpointError(
            f"{path}: an export directory runs as exported; precision and compile do not apply"
        )
    try:
        online, manifest = load_export(path, torch.device(device) if isinstance(device, str) else device)
    except ExportError as err:
        raise CheckpointError(str(err)) from None
    config = manifest.config
    if overrides:
        other = sorted(set(overrides) - set(RUNTIME_KEYS))
        if other:
            raise CheckpointError(f"{path}: an export directory cannot change {', '.join(other)}")
        config = ModelConfig.model_validate({**config.model_dump(mode="json"), **overrides})
        online.cfg = config
    metadata = {"kind": "export-directory", "format": manifest.format, "label_space": manifest.label_space}
    return online, config, {**manifest.source, **metadata}
