"""The online Video K-Net as three nodes of the streaming graph: backbone, kernel tracker, depth head.

Three nodes rather than one so that the runtime can place the stages apart: each can run in its
own actor (a stage that falls behind can get more replicas or its own device), while the usual
deployment fuses all three into one actor on one device, where packets hand the stages' tensors on
by reference and nothing is copied. Nodes in one process share one loaded model
(:func:`shared_model`).

Packet data, node by node:

- :class:`BackboneNode`: ``image`` (HxWx3 uint8 RGB) -> ``encoded`` (:class:`BatchItem` of an
  :class:`EncodedBatch`).
- :class:`KernelTrackerNode`: adds ``segmented`` (:class:`BatchItem` of a :class:`SegmentedBatch`);
  holds every stream's tracking state and sets ``Packet.state_reset`` where a stream's track ids
  start afresh mid-stream.
- :class:`DepthHeadNode`: ``encoded`` and ``segmented`` -> ``panoptic`` (HxW uint32, class id << 16
  | track id), ``depth`` (HxW float32 metres) and ``scores`` (panoptic value -> segment confidence).
"""

from __future__ import annotations

import logging
import os
import threading
from collections import Counter
from pathlib import Path
from typing import Any, get_args

import numpy as np
import torch

from vkstream.client.message import TRACK_BITS
from vkstream.models import ModelConfig, OnlineVideoKNet, StreamState
from vkstream.models.online import EncodedBatch, SegmentedBatch
from vkstream.nodes.batching import BatchItem, gather_batch
from vkstream.nodes.packet import Packet
from vkstream.nodes.publisher import panoptic_from_labels, wire_track_id
from vkstream.train.checkpoint import load_model

log = logging.getLogger(__name__)

ASSOCIATIONS: tuple[str, ...] = get_args(ModelConfig.model_fields["association"].annotation)
"""Values of the ``association`` option: the tracker association a checkpoint's own can be replaced by."""

_MODELS: dict[tuple[str, str, str | None], OnlineVideoKNet] = {}
_MODELS_LOCK = threading.Lock()


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; ``cpu``, ``cuda`` or ``cuda:N`` as given, if present."""
    if not isinstance(name, str):
        raise ValueError(f"device must be a string (auto, cpu, cuda or cuda:N), got {name!r}")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise ValueError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cpu":
        return torch.device("cpu")
    if device.type != "cuda":
        raise ValueError(f"unsupported device {name!r}; use auto, cpu, cuda or cuda:N")
    if not torch.cuda.is_available():
        raise ValueError(f"device {name!r} requested but torch sees no CUDA GPU")
    index = torch.cuda.current_device() if device.index is None else device.index
    if index >= torch.cuda.device_count():
        raise ValueError(f"device {name!r} requested but torch sees {torch.cuda.device_count()} CUDA GPU(s)")
    return torch.device("cuda", index)


def shared_model(
    checkpoint: str | os.PathLike[str],
    device: str = "auto",
    threads: int | None = None,
    association: str | None = None,
) -> OnlineVideoKNet:
    """The process's model for these options, loaded on first use: nodes with equal options share it.

    ``threads`` sets torch's CPU threads (process-wide) when the model runs on the CPU.
    ``association`` replaces the checkpoint's tracker association (one of :data:`ASSOCIATIONS`).
    Checkpoint problems raise the loader's one-line CheckpointError (a ValueError).
    """
    if not isinstance(checkpoint, str | os.PathLike) or not os.fspath(checkpoint):
        raise ValueError(f"checkpoint must be a file path, got {checkpoint!r}")
    target = resolve_device(device)
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise ValueError(f"threads must be a positive integer or null, got {threads!r}")
    if association is not None and association not in ASSOCIATIONS:
        raise ValueError(f"unknown association {association!r}; use one of {', '.join(ASSOCIATIONS)}")
    if threads is not None and target.type == "cpu":
        torch.set_num_threads(threads)
    path = Path(checkpoint).expanduser().resolve()
    key = (str(path), str(target), association)
    with _MODELS_LOCK:
        online = _MODELS.get(key)
        if online is None:
            overrides = {"association": association} if association is not None else None
            model, _, _ = load_model(path, target, overrides=overrides)
            online = _MODELS[key] = OnlineVideoKNet(model)
    return online


class _ModelNode:
    """Options common to the three nodes; the model comes from :func:`shared_model`."""

    def __init__(
        self,
        *,
        checkpoint: str,
        device: str = "auto",
        threads: int | None = None,
        association: str | None = None,
    ) -> None:
        self.online = shared_model(checkpoint, device, threads, association)
        self._threads = threads if self.online.device.type == "cpu" else None
        self._threads_set_on: set[int] = set()

    def _use_threads(self) -> None:
        """Apply ``threads`` on the calling thread too: OpenMP keeps the thread count per thread, and
        the runtime calls ``process`` from its own worker thread, not the one that built the node."""
        if self._threads is not None and threading.get_ident() not in self._threads_set_on:
            torch.set_num_threads(self._threads)
            self._threads_set_on.add(threading.get_ident())

    def forget(self, stream: str) -> None:
        """Stateless: nothing to free."""

    def close(self) -> None:
        """The shared model stays loaded for other nodes of the process."""


def _with_items(packets: list[Packet], *keys: str) -> list[Packet]:
    """The packets that carry every one of ``keys`` as a BatchItem; the others are logged and left out."""
    usable = []
    for p in packets:
        missing = [k for k in keys if not isinstance(p.data.get(k), BatchItem)]
        if missing:
            log.error(
                "stream %s seq %d: dropped, it lacks %s from the previous node",
                p.stream,
                p.seq,
                ", ".join(missing),
            )
        else:
            usable.append(p)
    return usable


def _image_problem(image: Any) -> str | None:
    if not isinstance(image, np.ndarray):
        return f"no image array (got {type(image).__name__})"
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3 or not image.size:
        return f"the image must be HxWx3 uint8 RGB, got {image.dtype} {image.shape}"
    return None


class BackboneNode(_ModelNode):
    """HxWx3 uint8 RGB frames -> backbone and neck features, one batch on the model's device."""

    def process(self, packets: list[Packet]) -> list[Packet]:
        self._use_threads()
        good = []
        for p in packets:
            problem = _image_problem(p.data.get("image"))
            if problem is None:
                good.append(p)
            else:
                log.error("stream %s seq %d: dropped, %s", p.stream, p.seq, problem)
        if not good:
            return []
        # The batch's size is its most common one (the first on a tie); frames of another are dropped.
        size = Counter(p.data["image"].shape for p in good).most_common(1)[0][0]
        kept = []
        for p in good:
            if p.data["image"].shape == size:
                kept.append(p)
            else:
                log.error(
                    "stream %s seq %d: dropped, its image %s is not of the batch's size %s",
                    p.stream,
                    p.seq,
                    p.data["image"].shape[:2],
                    size[:2],
                )
        images = torch.from_numpy(np.stack([p.data["image"] for p in kept]))
        device = self.online.device
        if device.type == "cuda":
            images = images.pin_memory()
        with torch.inference_mode():
            # uint8 crosses to the device (a quarter of float32); the conversion runs there.
            images = images.to(device, non_blocking=True).permute(0, 3, 1, 2)
            images = images.to(torch.float32, memory_format=torch.contiguous_format).div_(255.0)
            encoded = self.online.encode(images)
        for i, p in enumerate(kept):
            del p.data["image"]
            p.data["encoded"] = BatchItem(encoded, i)
        return kept


class KernelTrackerNode(_ModelNode):
    """Kernel head, panoptic merge and tracker; keeps every stream's state on the model's device.

    A stream's state starts afresh at a ``restart`` packet, at a frame of another size than the
    state's (the camera changed resolution) and when the stream is unknown (first frame, or this
    node's state was lost). Where that happens after seq 0, the packet's ``state_reset`` is set:
    subscribers must not expect its track ids to continue the earlier frames'.
    """

    def __init__(
        self,
        *,
        checkpoint: str,
        device: str = "auto",
        threads: int | None = None,
        association: str | None = None,
    ) -> None:
        super().__init__(checkpoint=checkpoint, device=device, threads=threads, association=association)
        self._states: dict[str, StreamState] = {}

    def process(self, packets: list[Packet]) -> list[Packet]:
        self._use_threads()
        packets = _with_items(packets, "encoded")
        seen: set[str] = set()
        unique = []
        for p in packets:
            if p.stream in seen:
                log.error(
                    "stream %s seq %d: dropped, a second frame of the stream in one batch", p.stream, p.seq
                )
            else:
                seen.add(p.stream)
                unique.append(p)
        if not unique:
            return []
        encoded: EncodedBatch = gather_batch([p.data["encoded"] for p in unique])
        states = [self._state_for(p, encoded.image_size) for p in unique]
        segmented = self.online.segment(encoded, states)
        for i, p in enumerate(unique):
            self._states[p.stream] = segmented.new_states[i]
            p.data["segmented"] = BatchItem(segmented, i)
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
        return {"streams": len(self._states)}


class DepthHeadNode(_ModelNode):
    """Depth head and the host-side outputs: panoptic map, depth map and per-segment scores."""

    def process(self, packets: list[Packet]) -> list[Packet]:
        self._use_threads()
        packets = _with_items(packets, "encoded", "segmented")
        if not packets:
            return []
        encoded: EncodedBatch = gather_batch([p.data["encoded"] for p in packets])
        segmented: SegmentedBatch = gather_batch([p.data["segmented"] for p in packets])
        results = self.online.estimate_depth(encoded, segmented)
        with torch.inference_mode():
            # One transfer for the batch: class, track and the depth's bits as int32 planes.
            planes = [(r.semantic.to(torch.int32), r.track, r.depth.view(torch.int32)) for r in results]
            maps = torch.stack([plane for frame in planes for plane in frame]).cpu().numpy()
            maps = maps.reshape(len(results), 3, *maps.shape[1:])
        for p, r, m in zip(packets, results, maps, strict=True):
            scores: dict[int, float] = {}
            for s in r.segments:
                # Segments of one class without a track share a panoptic value: it keeps the best score.
                value = (s.class_id << TRACK_BITS) | wire_track_id(s.track_id)
                scores[value] = max(scores.get(value, 0.0), s.score)
            del p.data["encoded"], p.data["segmented"]
            p.data["panoptic"] = panoptic_from_labels(m[0], m[1])
            p.data["depth"] = m[2].view(np.float32)
            p.data["scores"] = scores
        return packets
