"""Writing and reading an export directory: each network stage, per batch bucket, as a deployable file.

An export directory holds ``manifest.json`` (format, image size, batch buckets, the model config and
label space, where it came from) and one file per (stage, batch size):

- ``exported``: ``torch.export`` programs (``.pt2``), run by PyTorch on the device they were exported
  on;
- ``aoti``: AOTInductor packages (``.pt2``), compiled ahead of time to native code (runs on a CPU);
- ``tensorrt``: TensorRT engines built by torch-tensorrt's dynamo path, saved as exported programs
  (needs the ``tensorrt`` extra and a CUDA GPU).

Shapes are static: the image size and each batch size are fixed at export; the runtime pads a batch
to the next exported size. The panoptic merge and the tracker are not exported: they run in
PyTorch on the same device, from the stages' outputs.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

import torch
from torch import Tensor

from vkstream.data.labels import LabelSpace
from vkstream.models import ModelConfig, OnlineVideoKNet, VideoKNet
from vkstream.models.options import STAGE_NAMES
from vkstream.models.stage_modules import stage_modules
from vkstream.models.stages import Stage

ExportFormat = Literal["exported", "aoti", "tensorrt"]
FORMATS: tuple[str, ...] = get_args(ExportFormat)
MANIFEST = "manifest.json"
MANIFEST_FORMAT = "vkstream-export/3"
"""3: both head stages start from the neck's fused pyramid and run their own branch of the neck."""
EARLIER_SPLITS = ("vkstream-export/1", "vkstream-export/2")
"""Manifests of exports whose stages split the network differently: refused, to be exported again."""


class ExportError(ValueError):
    """An export cannot be written or read; the message is one line naming the file or the cause."""


@dataclass(frozen=True)
class ExportManifest:
    format: ExportFormat
    image_size: tuple[int, int]
    """(H, W) the stages were exported for."""
    batch_sizes: tuple[int, ...]
    device: str
    config: ModelConfig
    label_space: LabelSpace
    files: dict[str, dict[int, str]]
    """stage -> batch size -> file name in the directory."""
    source: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "manifest": MANIFEST_FORMAT,
            "format": self.format,
            "image_size": list(self.image_size),
            "batch_sizes": list(self.batch_sizes),
            "device": self.device,
            "config": self.config.model_dump(mode="json"),
            "label_space": self.label_space.to_json(),
            "files": {
                stage: {str(b): name for b, name in files.items()} for stage, files in self.files.items()
            },
            "source": self.source,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], where: Path) -> ExportManifest:
        if isinstance(data, dict) and data.get("manifest") in EARLIER_SPLITS:
            raise ExportError(
                f"{where}: exported by an earlier vkstream, whose stages split the network "
                "differently; export the checkpoint again"
            )
        try:
            if data.get("manifest") != MANIFEST_FORMAT:
                raise ValueError(f"not a {MANIFEST_FORMAT} manifest")
            config = ModelConfig.model_validate(data["config"])
            return cls(
                format=data["format"],
                image_size=(int(data["image_size"][0]), int(data["image_size"][1])),
                batch_sizes=tuple(int(b) for b in data["batch_sizes"]),
                device=str(data["device"]),
                config=config,
                label_space=LabelSpace.from_json(data["label_space"]),
                files={s: {int(b): str(n) for b, n in f.items()} for s, f in data["files"].items()},
                source=dict(data.get("source", {})),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise ExportError(f"{where}: corrupt export manifest ({' '.join(str(err).split())})") from None


def is_export_dir(path: str | os.PathLike[str]) -> bool:
    return (Path(path) / MANIFEST).is_file()


def example_inputs(
    model: VideoKNet, image_size: tuple[int, int], batch: int, device: torch.device
) -> dict[str, tuple[Tensor, ...]]:
    """Inputs of each stage for a batch of ``batch`` frames of ``image_size`` (H, W), from a real run."""
    images = torch.rand(batch, 3, *image_size, device=device)
    with torch.inference_mode():
        stages = stage_modules(model)
        (fused,) = stages["backbone_neck"](images)
        previous = model.empty_previous(batch)
        has_previous = torch.arange(batch, device=device) % 2 == 0
        kernels, mask_logits, _, _ = stages["kernel_head"](fused, previous, has_previous)
    inputs = {
        "backbone_neck": (images,),
        "kernel_head": (fused, previous, has_previous),
        "depth_head": (fused, kernels, mask_logits),
    }
    # Clones outside inference mode: torch.export traces ordinary tensors.
    return {name: tuple(t.clone() for t in args) for name, args in inputs.items()}


def export_model(
    model: VideoKNet,
    label_space: LabelSpace,
    out: str | os.PathLike[str],
    *,
    image_size: tuple[int, int],
    batch_sizes: Sequence[int] = (1, 2, 4, 8),
    fmt: ExportFormat = "exported",
    source: dict[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
) -> ExportManifest:
    """Export every stage of ``model`` (on its device) for frames of ``image_size`` (H, W), per batch size."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    sizes = tuple(sorted({int(b) for b in batch_sizes}))
    if not sizes or sizes[0] < 1:
        raise ExportError(f"batch sizes must be positive, got {list(batch_sizes)}")
    if min(image_size) < 32:
        raise ExportError(f"image size {image_size[1]}x{image_size[0]} is too small (at least 32x32)")
    compile_stage = _compiler(fmt)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    device = model.kernel_head.init_kernels.device
    model.eval()
    files: dict[str, dict[int, str]] = {name: {} for name in STAGE_NAMES}
    modules = stage_modules(model)
    for batch in sizes:
        inputs = example_inputs(model, image_size, batch, device)
        for name in STAGE_NAMES:
            started = time.perf_counter()
            file_name = f"{name}_b{batch}.pt2"
            try:
                program = torch.export.export(modules[name], inputs[name])
                compile_stage(program, inputs[name], out / file_name)
            except (RuntimeError, ValueError, TypeError, AssertionError) as err:
                first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
                raise ExportError(f"exporting {name} for batch {batch} as {fmt} failed: {first}") from err
            files[name][batch] = file_name
            if progress is not None:
                progress(f"{name} batch {batch}: {fmt} in {time.perf_counter() - started:.1f} s")
    manifest = ExportManifest(
        format=fmt,
        image_size=(int(image_size[0]), int(image_size[1])),
        batch_sizes=sizes,
        device=str(device),
        config=model.cfg,
        label_space=label_space,
        files=files,
        source={**(source or {}), "torch": torch.__version__, "date": time.strftime("%Y-%m-%d %H:%M:%S")},
    )
    (out / MANIFEST).write_text(json.dumps(manifest.to_json(), indent=1) + "\n", encoding="utf-8")
    return manifest


def _compiler(fmt: ExportFormat) -> Callable[[Any, tuple[Tensor, ...], Path], None]:
    if fmt == "exported":
        return lambda program, _, path: torch.export.save(program, path)
    if fmt == "aoti":
        return lambda program, _, path: torch._inductor.aoti_compile_and_package(
            program, package_path=str(path)
        )
    torch_tensorrt = _tensorrt()

    def compile_trt(program: Any, inputs: tuple[Tensor, ...], path: Path) -> None:
        engine = torch_tensorrt.dynamo.compile(program, arg_inputs=list(inputs))
        torch_tensorrt.save(engine, str(path), output_format="exported_program", arg_inputs=list(inputs))

    return compile_trt


def _tensorrt() -> Any:
    """torch_tensorrt, or a one-line ExportError saying what is missing."""
    missing = []
    try:
        import torch_tensorrt
    except ImportError:
        torch_tensorrt = None
        missing.append("torch-tensorrt (pip install -e '.[tensorrt]')")
    if not torch.cuda.is_available():
        missing.append("a CUDA GPU")
    if missing:
        raise ExportError(f"the tensorrt format needs {' and '.join(missing)}")
    return torch_tensorrt


def read_manifest(path: str | os.PathLike[str]) -> ExportManifest:
    folder = Path(path)
    manifest_file = folder / MANIFEST
    if not manifest_file.is_file():
        raise ExportError(f"{folder}: not an export directory (no {MANIFEST})")
    try:
        data = json.loads(manifest_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ExportError(f"{manifest_file}: unreadable ({' '.join(str(err).split())})") from None
    if not isinstance(data, dict):
        raise ExportError(f"{manifest_file}: corrupt export manifest (not a JSON object)")
    manifest = ExportManifest.from_json(data, manifest_file)
    for stage in STAGE_NAMES:
        for batch, name in manifest.files.get(stage, {}).items():
            if not (folder / name).is_file():
                raise ExportError(f"{folder}: {name} ({stage}, batch {batch}) is missing")
    return manifest


def load_export(
    path: str | os.PathLike[str], device: torch.device | None = None
) -> tuple[OnlineVideoKNet, ExportManifest]:
    """An online model running the exported stages of ``path``, and its manifest.

    The stages run on the device they were exported for (``device``, if given, must be that one).
    Frames must have the exported image size.
    """
    folder = Path(path)
    manifest = read_manifest(folder)
    exported_on = torch.device(manifest.device)
    if (
        device is not None
        and torch.device(device) != exported_on
        and not (torch.device(device).type == exported_on.type == "cuda")
    ):
        raise ExportError(f"{folder} was exported for {manifest.device}, not for {device}")
    if manifest.format == "tensorrt":
        _tensorrt()
    loader = _loader(manifest.format)
    stages = {}
    for name in STAGE_NAMES:
        files = manifest.files.get(name)
        if not files:
            raise ExportError(f"{folder}: the manifest lists no files for stage {name}")
        try:
            fns = {batch: loader(folder / file_name) for batch, file_name in files.items()}
        except (RuntimeError, ValueError, OSError) as err:
            raise ExportError(f"{folder}: cannot load {name}: {' '.join(str(err).split())[:200]}") from None
        stages[name] = Stage(name, fns, exported_on)
    return OnlineVideoKNet.from_stages(manifest.config, stages, exported_on, manifest.image_size), manifest


def _loader(fmt: str) -> Callable[[Path], Callable[..., tuple[Tensor, ...]]]:
    if fmt == "aoti":
        return lambda path: torch._inductor.aoti_load_package(str(path))
    if fmt in ("exported", "tensorrt"):
        return lambda path: torch.export.load(str(path)).module()
    raise ExportError(f"unknown export format {fmt!r} in the manifest")
