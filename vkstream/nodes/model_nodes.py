"""The online Video K-Net as three nodes of the graph: backbone, kernel tracker, depth head.

Three nodes rather than one so that the runtime can place the stages apart (each in its own actor,
on its own device), while the usual deployment fuses all three into one actor, where the stages hand
each other their tensors by reference. All three compute with the pipeline's ``model:`` block: the
nodes of one actor share one loaded model (:func:`stage_model`), and each loads only its own part of
the weights, so stages in separate actors hold only what they run.

Ports: ``backbone``: ``image`` -> ``features``; ``kernel_tracker``: ``features`` -> ``segments``
(holding every stream's tracking state); ``depth_head``: ``features``, ``segments`` -> ``panoptic``
(class and track maps with the model's own segment table and label space) and ``depth`` (float32
metres). Features and segments carry the model's identity; a stage fed by another model refuses them.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from vkstream.data.labels import LabelSpace
from vkstream.export import MANIFEST, ExportError, is_export_dir, load_export
from vkstream.models import ModelConfig, OnlineVideoKNet, StreamState, VideoKNet
from vkstream.models.device import resolve_device
from vkstream.models.fold import fold_backbone
from vkstream.models.online import EncodedBatch, FrameResult, SegmentedBatch
from vkstream.models.options import STAGE_NAMES, CompileMode, Precision, StageOptions
from vkstream.models.stage_modules import build_stage, stage_modules, stage_weights
from vkstream.models.stages import Stage
from vkstream.nodes.batching import BatchItem, gather_batch
from vkstream.nodes.model_spec import ModelSpec
from vkstream.nodes.node import DEPTH, IMAGE, PANOPTIC, Node, NodeContext, Packet, Port, ports
from vkstream.train.checkpoint import load_weights, read_checkpoint, stored_label_space, stored_model_config
from vkstream.wire import Panoptic, SegmentStats

log = logging.getLogger(__name__)

FEATURES = "video_knet/features"
SEGMENTS = "video_knet/segments"


class StageNodeOptions(BaseModel):
    """A stage's own precision and compilation; unset keys take the ``model:`` block's."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    precision: Precision | None = Field(
        default=None, description="fp32, bf16 or fp16 (default: the model block's)"
    )
    compile: CompileMode | None = Field(
        default=None, description="torch.compile mode (default: the model block's)"
    )
    channels_last: bool | None = Field(
        default=None, description="NHWC convolutions (default: the model block's)"
    )


class LoadedModel:
    """The pipeline's model in one actor: its config, label space, identity and the parts loaded so far.

    A checkpoint's parts are built and loaded as stages need them, each with its stage's options; an
    export directory's stages all come with it, as exported.
    """

    def __init__(self, spec: ModelSpec, device: torch.device, max_batch: int) -> None:
        self.spec = spec
        self.path = Path(spec.checkpoint).expanduser().resolve()
        self.max_batch = max_batch
        self.threads = spec.threads if device.type == "cpu" else None
        self.parts: set[str] = set()
        """The parts built and loaded, on ``device``; the others hold no weights."""
        self.weights = 0
        """Parameters loaded from the checkpoint (0 for an export directory: its programs hold them)."""
        self.warm_up_seconds: dict[str, float] = {}
        if is_export_dir(self.path):
            self._load_export(spec, device)
            return
        self.exported = False
        self._payload = read_checkpoint(self.path, mmap=True)
        config = stored_model_config(self._payload, self.path)
        if spec.association is not None:
            config = config.model_copy(update={"association": spec.association})
        self.config: ModelConfig = config
        self.labels: LabelSpace = stored_label_space(self._payload, config, self.path)
        self.identity = f"{self.path.name}#{_digest(self.path)}/{config.association}"
        """Equal for stages that run the same weights the same way, wherever they run."""
        with torch.device("meta"):  # the network's parts as placeholders: no memory, no weights read
            skeleton = stage_modules(VideoKNet(config))
        stages = {name: Stage(name, module, device) for name, module in skeleton.items()}
        self.online = OnlineVideoKNet.from_stages(config, stages, device)

    def _load_export(self, spec: ModelSpec, device: torch.device) -> None:
        try:
            online, manifest = load_export(self.path, device)
        except ExportError as err:
            raise ValueError(str(err)) from None
        if (spec.precision, spec.compile, spec.channels_last) != ("fp32", "none", False):
            raise ValueError(
                f"{self.path} is an export directory: it runs as exported, without precision or compile"
            )
        self.exported = True
        self.config = manifest.config
        if spec.association is not None:
            self.config = self.config.model_copy(update={"association": spec.association})
            online.cfg = self.config
        self.labels = manifest.label_space
        self.identity = f"{self.path.name}#{_digest(self.path / MANIFEST)}/{self.config.association}"
        self.online = online
        self.parts = set(STAGE_NAMES)
        height, width = manifest.image_size
        with self.computing():
            self.warm_up_seconds = online.warm_up((height, width), max_batch=self.max_batch)

    def require(self, part: str, options: StageNodeOptions | None = None) -> None:
        """Build and load the network's ``part`` (one of :data:`STAGE_NAMES`) unless it is loaded, with
        ``options`` over the block's, and warm it up for the block's frame sizes."""
        if part in self.parts:
            if self.exported and options is not None and options.model_dump(exclude_none=True):
                raise ValueError(f"{self.path} is an export directory: its stages run as exported")
            return
        spec = self.spec
        chosen = StageOptions(
            precision=_either(options, "precision", spec.precision),
            compile=_either(options, "compile", spec.compile),
            channels_last=_either(options, "channels_last", spec.channels_last),
        )
        if chosen.compile != "none" and not spec.warm_up:
            raise ValueError(f"stage {part} is compiled: give the model block warm_up frame sizes (WxH)")
        module = build_stage(part, self.config)
        load_weights(module, stage_weights(part, self._payload["state_dict"]), self.path)
        device = self.online.device
        module = module.to(device).eval()
        self.weights += sum(p.numel() for p in module.parameters())
        if part == "backbone_neck":
            fold_backbone(module)  # its batch norms into their convolutions: one pass less per map
        self.online.stages[part] = Stage(part, module, device, chosen)
        self.parts.add(part)
        with self.computing():
            for width, height in spec.warm_up:
                seconds = self.online.warm_up((height, width), stages=(part,), max_batch=self.max_batch)[part]
                self.warm_up_seconds[part] = self.warm_up_seconds.get(part, 0.0) + seconds

    @contextmanager
    def computing(self) -> Iterator[None]:
        """Inference with the block's CPU threads on the calling thread (OpenMP counts them per thread)."""
        previous = torch.get_num_threads()
        if self.threads is not None:
            torch.set_num_threads(self.threads)
        try:
            with torch.inference_mode():
                yield
        finally:
            if self.threads is not None:
                torch.set_num_threads(previous)


def _either(options: StageNodeOptions | None, key: str, default: Any) -> Any:
    value = getattr(options, key) if options is not None else None
    return default if value is None else value


def _digest(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            sha.update(chunk)
    return sha.hexdigest()[:12]


def stage_model(context: NodeContext, part: str, options: StageNodeOptions | None = None) -> LoadedModel:
    """The actor's model (loaded on first use, shared by the actor's stages) with ``part`` loaded."""
    if context.model is None:
        raise ValueError(f"node {context.name!r} computes with the model: give the pipeline a 'model:' block")
    device = resolve_device(context.device or context.model.device)
    key = f"vkstream.model@{device}"
    loaded = context.shared.get(key)
    if loaded is None:
        loaded = context.shared[key] = LoadedModel(context.model, device, context.max_batch)
    loaded.require(part, options)
    return loaded


class _Stage(Node):
    uses_model = True
    Options = StageNodeOptions
    part: str

    def __init__(self, options: Any, context: NodeContext) -> None:
        super().__init__(options, context)
        self.model = stage_model(context, self.part, options)
        self.online = self.model.online

    def report(self) -> dict[str, Any]:
        seconds = self.model.warm_up_seconds.get(self.part)
        return {} if seconds is None else {"warm_up_s": round(seconds, 2)}

    def _items(self, packets: list[Packet], *ports: str) -> list[Packet]:
        """The packets whose ``ports`` hold batch items of this very model; others are logged, left out."""
        return [p for p in packets if self._fits(p, ports)]

    def _fits(self, p: Packet, ports: tuple[str, ...]) -> bool:
        items = {port: p.inputs.get(port) for port in ports}
        models = {
            port: item.model if isinstance(item, BatchItem) else "no model" for port, item in items.items()
        }
        bad = ", ".join(
            f"{port} from {model}" for port, model in models.items() if model != self.model.identity
        )
        if bad:
            name, identity = self.context.name, self.model.identity
            log.error("stream %s seq %d: dropped, %s: node %r runs %s", p.stream, p.seq, bad, name, identity)
        return not bad


def _image_problem(image: Any) -> str | None:
    if not isinstance(image, np.ndarray):
        return f"no image array (got {type(image).__name__})"
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3 or not image.size:
        return f"the image must be HxWx3 uint8 RGB, got {image.dtype} {image.shape}"
    return None


class BackboneNode(_Stage):
    """HxWx3 uint8 RGB frames -> backbone and neck features, one batch on the model's device."""

    inputs = ports(image=Port(IMAGE))
    outputs = ports(features=Port(FEATURES, "backbone and neck features on the model's device"))
    part = "backbone_neck"

    def process(self, packets: list[Packet]) -> list[Packet]:
        good = []
        for p in packets:
            problem = _image_problem(p.inputs.get("image"))
            if problem is None:
                good.append(p)
            else:
                log.error("stream %s seq %d: dropped, %s", p.stream, p.seq, problem)
        if not good:
            return []
        # The batch's size is its most common one (the first on a tie); frames of another are dropped.
        size = Counter(p.inputs["image"].shape for p in good).most_common(1)[0][0]
        kept = [p for p in good if p.inputs["image"].shape == size]
        for p in good:
            if p.inputs["image"].shape != size:
                shape = p.inputs["image"].shape[:2]
                log.error(
                    "stream %s seq %d: dropped, its image %s is not the batch's %s",
                    p.stream,
                    p.seq,
                    shape,
                    size[:2],
                )
        images = torch.from_numpy(np.stack([p.inputs["image"] for p in kept]))
        device = self.online.device
        if device.type == "cuda":
            images = images.pin_memory()
        with self.model.computing():
            # uint8 crosses to the device (a quarter of float32); the conversion runs there.
            images = images.to(device, non_blocking=True).permute(0, 3, 1, 2)
            images = images.to(torch.float32, memory_format=torch.contiguous_format).div_(255.0)
            encoded = self.online.encode(images)
        for i, p in enumerate(kept):
            p.outputs["features"] = BatchItem(encoded, i, self.model.identity)
        return kept


class KernelTrackerNode(_Stage):
    """Kernel head, panoptic merge and tracker; keeps every stream's state on the model's device.

    A stream's state starts afresh at a ``restart`` packet, at a frame of another size than the
    state's (the camera changed resolution) and when the stream is unknown (first frame, or this
    node's state was lost). Where that happens after seq 0, the packet's ``state_reset`` is set:
    subscribers must not expect its track ids to continue the earlier frames'.
    """

    inputs = ports(features=Port(FEATURES))
    outputs = ports(segments=Port(SEGMENTS, "kernels, masks and track ids on the model's device"))
    part = "kernel_head"

    def __init__(self, options: Any, context: NodeContext) -> None:
        super().__init__(options, context)
        self._states: dict[str, StreamState] = {}

    def process(self, packets: list[Packet]) -> list[Packet]:
        seen: set[str] = set()
        unique = []
        for p in self._items(packets, "features"):
            if p.stream in seen:
                log.error(
                    "stream %s seq %d: dropped, a second frame of the stream in one batch", p.stream, p.seq
                )
            else:
                seen.add(p.stream)
                unique.append(p)
        if not unique:
            return []
        encoded: EncodedBatch = gather_batch([p.inputs["features"] for p in unique])
        states = [self._state_for(p, encoded.image_size) for p in unique]
        with self.model.computing():
            segmented = self.online.segment(encoded, states)
        for i, p in enumerate(unique):
            self._states[p.stream] = segmented.new_states[i]
            p.outputs["segments"] = BatchItem(segmented, i, self.model.identity)
        return unique

    def _state_for(self, packet: Packet, size: tuple[int, int]) -> StreamState | None:
        state = self._states.get(packet.stream)
        if state is not None and not packet.restart and state.image_size != size:
            log.warning(
                "stream %s seq %d: frames changed from %dx%d to %dx%d (HxW); its tracks start afresh",
                packet.stream,
                packet.seq,
                *state.image_size,
                *size,
            )
            state = None
        if packet.restart:
            state = None
        if state is None and packet.seq > 0:
            packet.state_reset = True
        return state

    def forget(self, stream: str) -> None:
        """Drop the stream's state (its tensors on the device go with it)."""
        self._states.pop(stream, None)

    def close(self) -> None:
        self._states.clear()

    def report(self) -> dict[str, Any]:
        return {**super().report(), "streams": len(self._states)}


class DepthHeadNode(_Stage):
    """Depth head and the host-side result: class and track maps, the segment table, depth in metres."""

    inputs = ports(features=Port(FEATURES), segments=Port(SEGMENTS))
    outputs = ports(
        panoptic=Port(PANOPTIC, "class and track maps, the model's segment table and label space"),
        depth=Port(DEPTH),
    )
    part = "depth_head"

    def process(self, packets: list[Packet]) -> list[Packet]:
        packets = self._items(packets, "features", "segments")
        if not packets:
            return []
        encoded: EncodedBatch = gather_batch([p.inputs["features"] for p in packets])
        segmented: SegmentedBatch = gather_batch([p.inputs["segments"] for p in packets])
        with self.model.computing():
            results = self.online.estimate_depth(encoded, segmented)
        for p, (panoptic, depth) in zip(packets, host_results(results, self.model.labels), strict=True):
            p.outputs["panoptic"], p.outputs["depth"] = panoptic, depth
        return packets


def host_results(results: list[FrameResult], labels: LabelSpace) -> list[tuple[Panoptic, np.ndarray]]:
    """The model's results on the host as neutral frames and float32 depth, in one transfer for the batch."""
    with torch.inference_mode():
        planes = [(r.semantic.to(torch.int32), r.track, r.depth.view(torch.int32)) for r in results]
        maps = torch.stack([plane for frame in planes for plane in frame]).cpu().numpy()
    maps = maps.reshape(len(results), 3, *maps.shape[1:])
    out = []
    for r, m in zip(results, maps, strict=True):
        table = tuple(segment_stats(s) for s in r.segments)
        out.append((Panoptic(m[0].astype(np.uint8), m[1], labels, table), m[2].view(np.float32)))
    return out


def segment_stats(segment: Any) -> SegmentStats:
    """A model segment in the wire's terms; without a median pixel, its box's centre stands in."""
    x0, y0, x1, y1 = segment.bbox
    center = getattr(segment, "center", None) or ((x0 + x1 - 1) / 2, (y0 + y1 - 1) / 2)
    return SegmentStats(
        segment.class_id, segment.track_id, segment.score, segment.area, segment.bbox, segment.depth_m, center
    )
