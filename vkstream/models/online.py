"""Online inference: a batch of frames from several streams, each with its own state, in one step.

The step is three stages (backbone, kernel head with tracker, depth head) that can also run apart,
e.g. as separate nodes of a streaming graph; their intermediate batches are batch-first dataclasses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from vkstream.models.backbone import padded_size
from vkstream.models.config import ModelConfig
from vkstream.models.options import STAGE_NAMES, StageOptions
from vkstream.models.panoptic import PanopticBatch, add_depth, device_tensor, merge_segments
from vkstream.models.segment_stats import segment_stats
from vkstream.models.stage_modules import stage_modules
from vkstream.models.stages import Stage
from vkstream.models.tracker import Detections, TrackMemory, track
from vkstream.models.video_knet import VideoKNet


@dataclass
class StreamState:
    """What one stream carries from frame to frame, on the model's device."""

    kernels: Tensor
    """[N,C] final kernels of the last frame: the next frame's kernels link to them."""
    memory: TrackMemory
    """The stream's tracks."""
    frame_index: int
    """Index of the last frame processed (0 = the stream's first frame)."""
    image_size: tuple[int, int]
    """(H, W) of the stream's frames."""


@dataclass
class EncodedBatch:
    """Backbone and neck features of a batch of frames of one size.

    Tensors are batch-first and lists per item, so batches can be sliced and concatenated item-wise.
    """

    fused: Tensor
    """[B,C,h,w] the neck's fused pyramid, which each head stage turns into its own features."""
    image_size: tuple[int, int]
    """(H, W) of the frames."""

    def __len__(self) -> int:
        return int(self.fused.shape[0])


@dataclass
class SegmentedBatch:
    """The kernel stage's output: what the depth stage needs, and the streams' new states.

    Tensors are batch-first and lists per item, so batches can be sliced and concatenated item-wise.
    """

    kernels: Tensor
    """[B,N,C] final kernels."""
    mask_logits: Tensor
    """[B,N,h,w] final mask logits on the padded mask grid."""
    merged: PanopticBatch
    """The panoptic merge, without depth."""
    track_ids: Tensor
    """[B,Nt] track id of each thing kernel, 0 = none."""
    frame_indices: list[int]
    """Each item's frame index in its stream."""
    new_states: list[StreamState]
    image_size: tuple[int, int]

    def __len__(self) -> int:
        return int(self.kernels.shape[0])


@dataclass(frozen=True)
class Segment:
    """One segment of a frame's panoptic output."""

    id: int
    """The segment's value in :attr:`FrameResult.panoptic` (1..S within the frame)."""
    class_id: int
    is_thing: bool
    track_id: int
    """0 for stuff and for thing regions without a track."""
    score: float
    area: int
    bbox: tuple[int, int, int, int]
    """(x0, y0, x1, y1) in pixels, x1/y1 exclusive."""
    depth_m: float
    """Median depth of the segment's pixels."""
    center: tuple[float, float]
    """(u, v): the per-axis median column and row of the segment's pixels, where ``depth_m`` is seen
    (back-projected with the camera intrinsics, the segment's 3D position)."""


@dataclass
class FrameResult:
    """One frame's output. The maps are tensors on the model's device; :meth:`cpu` moves them."""

    frame_index: int
    semantic: Tensor
    """[H,W] uint8 train ids; never void."""
    track: Tensor
    """[H,W] int32 track ids, 0 for stuff and untracked pixels."""
    depth: Tensor
    """[H,W] float32 metres."""
    panoptic: Tensor
    """[H,W] int32 segment ids (:attr:`Segment.id`); every pixel belongs to a segment."""
    segments: list[Segment]

    def cpu(self) -> FrameResult:
        return FrameResult(
            self.frame_index,
            self.semantic.cpu(),
            self.track.cpu(),
            self.depth.cpu(),
            self.panoptic.cpu(),
            self.segments,
        )


class OnlineVideoKNet:
    """Runs a :class:`VideoKNet` online over frames of many streams.

    ``step`` takes a batch of frames (one per stream, all of one size) and each stream's state
    (None for a stream's first frame) and returns the results and the new states. It is
    :meth:`encode`, :meth:`segment` and :meth:`estimate_depth` in a row, which can also be called
    apart. Streams never influence each other: every operation is per batch item. The model is put
    in eval mode.

    ``options`` sets each part's precision, compilation and memory format (:class:`StageOptions`,
    one for all parts or per part name of :data:`STAGE_NAMES`); :meth:`from_stages` runs parts
    that were built elsewhere, such as exported programs.
    """

    def __init__(
        self, model: VideoKNet, options: StageOptions | Mapping[str, StageOptions] | None = None
    ) -> None:
        model.eval()
        device = model.kernel_head.init_kernels.device
        per_stage = _per_stage(options)
        modules = stage_modules(model)
        stages = {name: Stage(name, modules[name], device, per_stage[name]) for name in STAGE_NAMES}
        self._setup(model.cfg, stages, device)
        self.model = model

    @classmethod
    def from_stages(
        cls,
        cfg: ModelConfig,
        stages: Mapping[str, Stage],
        device: torch.device,
        image_size: tuple[int, int] | None = None,
    ) -> OnlineVideoKNet:
        """An online model from ready-made parts with ``cfg``'s merge and tracker, e.g. exported
        programs, whose shapes are fixed: ``image_size`` (H, W) is then the only size it accepts."""
        missing = sorted(set(STAGE_NAMES) - set(stages))
        if missing:
            raise ValueError(f"stages {', '.join(missing)} are missing")
        online = cls.__new__(cls)
        online._setup(cfg, dict(stages), device, image_size)
        online.model = None
        return online

    def _setup(
        self,
        cfg: ModelConfig,
        stages: dict[str, Stage],
        device: torch.device,
        image_size: tuple[int, int] | None = None,
    ) -> None:
        self.cfg = cfg
        self.stages = stages
        self._device = device
        self.image_size = image_size
        """The one frame size (H, W) the stages accept (exported stages), or None for any."""

    @property
    def device(self) -> torch.device:
        return self._device

    def warm_up(
        self,
        image_size: tuple[int, int],
        stages: Sequence[str] = STAGE_NAMES,
        max_batch: int | None = None,
    ) -> dict[str, float]:
        """Compile (or first-run) ``stages`` for every batch bucket up to ``max_batch`` at ``image_size``
        (H, W), before live frames arrive; returns each stage's seconds."""
        cfg, device = self.cfg, self.device
        hp, wp = padded_size(*image_size)
        h, w = hp // cfg.mask_stride, wp // cfg.mask_stride
        n, c = cfg.num_kernels, cfg.neck_channels

        def feats(b: int) -> Tensor:
            return torch.zeros(b, c, h, w, device=device)

        examples = {
            "backbone_neck": lambda b: (torch.zeros(b, 3, *image_size, device=device),),
            "kernel_head": lambda b: (
                feats(b),
                torch.zeros(b, n, c, device=device),
                torch.zeros(b, dtype=torch.bool, device=device),
            ),
            "depth_head": lambda b: (
                feats(b),
                torch.zeros(b, n, c, device=device),
                torch.zeros(b, n, h, w, device=device),
            ),
        }
        return {name: self.stages[name].warm_up(examples[name], max_batch) for name in stages}

    def initial_state(self, image_size: tuple[int, int]) -> StreamState:
        """The state a stream starts from; equivalent to passing None."""
        cfg = self.cfg
        s = cfg.mask_stride
        pixels = (-(-image_size[0] // s)) * (-(-image_size[1] // s))
        return StreamState(
            kernels=torch.zeros(cfg.num_kernels, cfg.neck_channels, device=self.device),
            memory=TrackMemory.empty(cfg, pixels, self.device),
            frame_index=-1,
            image_size=image_size,
        )

    @torch.inference_mode()
    def step(
        self, images: Tensor, states: Sequence[StreamState | None]
    ) -> tuple[list[FrameResult], list[StreamState]]:
        """One frame per stream: float [B,3,H,W] RGB in 0..1 and B states -> B results and B new states."""
        encoded = self.encode(images)
        segmented = self.segment(encoded, states)
        return self.estimate_depth(encoded, segmented), segmented.new_states

    @torch.inference_mode()
    def encode(self, images: Tensor) -> EncodedBatch:
        """Backbone and neck of float [B,3,H,W] RGB in 0..1 (moved to the model's device if elsewhere)."""
        self._check(images=images)
        size = (int(images.shape[2]), int(images.shape[3]))
        if self.image_size is not None and size != tuple(self.image_size):
            h, w = self.image_size
            raise ValueError(
                f"the model was exported for {w}x{h} frames, got {size[1]}x{size[0]}; export it again"
            )
        (fused,) = self.stages["backbone_neck"](images.to(self.device, torch.float32))
        return EncodedBatch(fused, (int(images.shape[2]), int(images.shape[3])))

    @torch.inference_mode()
    def segment(self, encoded: EncodedBatch, states: Sequence[StreamState | None]) -> SegmentedBatch:
        """Kernels linked to each stream's previous ones, the merge without depth, and tracking."""
        self._check(encoded=encoded, states=states)
        size = encoded.image_size
        full = [s if s is not None else self.initial_state(size) for s in states]
        frame_indices = [s.frame_index + 1 for s in full]
        # A stream links its kernels to the previous ones exactly when it has a previous frame.
        frame = device_tensor(frame_indices, self.device)
        previous = torch.stack([s.kernels for s in full])
        memory = TrackMemory.stack([s.memory for s in full])

        kernels, mask_logits, class_logits, embeddings = self.stages["kernel_head"](
            encoded.fused, previous, frame > 0
        )
        merged = merge_segments(self.cfg, mask_logits, class_logits, size)
        track_ids, memory = track(self.cfg, Detections.from_merged(merged, embeddings), memory, frame)
        new_states = [
            StreamState(kernels=k.clone(), memory=m, frame_index=f, image_size=size)
            for k, m, f in zip(kernels.unbind(0), memory.unbind(), frame_indices, strict=True)
        ]
        return SegmentedBatch(kernels, mask_logits, merged, track_ids, frame_indices, new_states, size)

    @torch.inference_mode()
    def estimate_depth(self, encoded: EncodedBatch, segmented: SegmentedBatch) -> list[FrameResult]:
        """The depth head on the segmented frames, and each frame's result."""
        self._check(encoded=encoded, segmented=segmented)
        query_depth, dense_depth = self.stages["depth_head"](
            encoded.fused, segmented.kernels, segmented.mask_logits
        )
        merged = add_depth(segmented.merged, query_depth, dense_depth)
        return self._results(merged, segmented.track_ids, segmented.frame_indices)

    @staticmethod
    def _check(
        *,
        images: Tensor | None = None,
        encoded: EncodedBatch | None = None,
        states: Sequence[StreamState | None] | None = None,
        segmented: SegmentedBatch | None = None,
    ) -> None:
        """Every stage's inputs are checked here; each passes what it takes."""
        if images is not None:
            if images.ndim != 4 or images.shape[1] != 3:
                raise ValueError(f"images must be [B,3,H,W] RGB, got shape {tuple(images.shape)}")
            if not images.is_floating_point():
                raise ValueError(f"images must be float RGB in 0..1, got {images.dtype}")
        if encoded is not None and states is not None:
            if len(states) != len(encoded):
                raise ValueError(f"{len(states)} states for a batch of {len(encoded)} frames")
            size = encoded.image_size
            for i, s in enumerate(states):
                if s is not None and s.image_size != size:
                    raise ValueError(
                        f"stream {i} was started at {s.image_size[0]}x{s.image_size[1]} (HxW), now {size}"
                    )
        if (
            encoded is not None
            and segmented is not None
            and (len(segmented) != len(encoded) or segmented.image_size != encoded.image_size)
        ):
            raise ValueError(
                f"segmented batch ({len(segmented)} frames of {segmented.image_size}) does not match "
                f"the encoded batch ({len(encoded)} frames of {encoded.image_size})"
            )

    def _results(
        self, merged: PanopticBatch, track_ids: Tensor, frame_indices: list[int]
    ) -> list[FrameResult]:
        assert merged.depth is not None, "merged without depth"
        b, s = merged.slot_class.shape
        nt = self.cfg.num_thing_kernels
        stats = segment_stats(merged.slot, merged.depth, s)
        slot_track = torch.cat([track_ids, track_ids.new_zeros(b, s - nt)], dim=1)
        present = stats.area > 0
        segment_id = torch.where(present, torch.cumsum(present.long(), 1), torch.zeros_like(stats.area))
        panoptic = segment_id.gather(1, merged.slot.flatten(1)).view_as(merged.slot).int()
        track_map = slot_track.gather(1, merged.slot.flatten(1)).view_as(merged.slot).int()
        semantic = merged.semantic.to(torch.uint8)
        things = device_tensor(self.cfg.thing_classes, self.device)
        is_thing = torch.isin(merged.slot_class, things)
        # One transfer of the small per-segment tables.
        table = torch.cat(
            [
                torch.stack(
                    [segment_id, merged.slot_class, is_thing.long(), slot_track, stats.area], -1
                ).double(),
                stats.box.double(),
                torch.stack([merged.slot_score, stats.median_depth], -1).double(),
                stats.center.double(),
            ],
            dim=-1,
        ).cpu()
        results = []
        for i in range(b):
            rows = table[i][table[i, :, 0] > 0].tolist()
            segments = [
                Segment(
                    id=int(r[0]),
                    class_id=int(r[1]),
                    is_thing=bool(r[2]),
                    track_id=int(r[3]),
                    score=float(r[9]),
                    area=int(r[4]),
                    bbox=(int(r[5]), int(r[6]), int(r[7]), int(r[8])),
                    depth_m=float(r[10]),
                    center=(float(r[11]), float(r[12])),
                )
                for r in rows
            ]
            results.append(
                FrameResult(
                    frame_indices[i],
                    semantic[i],
                    track_map[i],
                    merged.depth[i].float(),
                    panoptic[i],
                    segments,
                )
            )
        return results


def _per_stage(options: StageOptions | Mapping[str, StageOptions] | None) -> dict[str, StageOptions]:
    if options is None or isinstance(options, StageOptions):
        return dict.fromkeys(STAGE_NAMES, options or StageOptions())
    unknown = sorted(set(options) - set(STAGE_NAMES))
    if unknown:
        raise ValueError(f"unknown stages {', '.join(unknown)}; the stages are {', '.join(STAGE_NAMES)}")
    return {name: options.get(name, StageOptions()) for name in STAGE_NAMES}
