"""Online inference: a batch of frames from several streams, each with its own state, in one step."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from vkstream.models.panoptic import PanopticBatch, merge_panoptic
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
    (None for a stream's first frame) and returns the results and the new states. Streams never
    influence each other: every operation is per batch item. The model is put in eval mode.
    """

    def __init__(self, model: VideoKNet) -> None:
        self.model = model.eval()
        self.cfg = model.cfg

    @property
    def device(self) -> torch.device:
        return self.model.kernel_head.init_kernels.device

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
        self, images: Tensor, states: list[StreamState | None]
    ) -> tuple[list[FrameResult], list[StreamState]]:
        """One frame per stream: float [B,3,H,W] RGB in 0..1 and B states -> B results and B new states."""
        size = self._check(images, states)
        images = images.to(self.device, torch.float32)
        full = [s if s is not None else self.initial_state(size) for s in states]
        has_previous = torch.tensor([s is not None for s in states], device=self.device)
        previous = torch.stack([s.kernels for s in full])
        memory = TrackMemory.stack([s.memory for s in full])
        frame = torch.tensor([s.frame_index + 1 for s in full], device=self.device)

        model = self.model
        mask_feats, depth_feats = model.backbone_neck(images)
        kernels, mask_logits, class_logits, embeddings = model.kernel_head(mask_feats, previous, has_previous)
        query_depth, dense_depth = model.depth_head(depth_feats, kernels, mask_logits)
        merged = merge_panoptic(
            self.cfg,
            torch.sigmoid(model.to_input_size(mask_logits, size)),
            class_logits,
            model.to_input_size(query_depth, size),
            model.to_input_size(dense_depth, size),
        )
        track_ids, memory = track(self.cfg, self._detections(merged, embeddings), memory, frame)
        results = self._results(merged, track_ids, frame)
        new_states = [
            StreamState(kernels=k.clone(), memory=m, frame_index=int(f), image_size=size)
            for k, m, f in zip(kernels.unbind(0), memory.unbind(), frame.tolist(), strict=True)
        ]
        return results, new_states

    def _check(self, images: Tensor, states: list[StreamState | None]) -> tuple[int, int]:
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"images must be [B,3,H,W] RGB, got shape {tuple(images.shape)}")
        if not images.is_floating_point():
            raise ValueError(f"images must be float RGB in 0..1, got {images.dtype}")
        if len(states) != images.shape[0]:
            raise ValueError(f"{len(states)} states for a batch of {images.shape[0]} frames")
        size = (int(images.shape[2]), int(images.shape[3]))
        for i, s in enumerate(states):
            if s is not None and s.image_size != size:
                raise ValueError(
                    f"stream {i} was started at {s.image_size[0]}x{s.image_size[1]} (HxW), now {size}"
                )
        return size

    def _detections(self, merged: PanopticBatch, embeddings: Tensor) -> Detections:
        nt = self.cfg.num_thing_kernels
        masks = merged.low_res_masks if self.cfg.association == "mask_iou" else merged.low_res_masks[..., :0]
        return Detections(
            valid=merged.area[:, :nt] > 0,
            scores=merged.slot_score[:, :nt],
            classes=merged.slot_class[:, :nt],
            boxes=merged.box[:, :nt].float(),
            embeddings=embeddings[:, :nt],
            masks=masks,
        )

    def _results(self, merged: PanopticBatch, track_ids: Tensor, frame: Tensor) -> list[FrameResult]:
        b, s = merged.area.shape
        nt = self.cfg.num_thing_kernels
        slot_track = torch.cat([track_ids, track_ids.new_zeros(b, s - nt)], dim=1)
        present = merged.area > 0
        segment_id = torch.where(present, torch.cumsum(present.long(), 1), torch.zeros_like(merged.area))
        panoptic = segment_id.gather(1, merged.slot.flatten(1)).view_as(merged.slot).int()
        track_map = slot_track.gather(1, merged.slot.flatten(1)).view_as(merged.slot).int()
        semantic = merged.semantic.to(torch.uint8)
        things = torch.tensor(self.cfg.thing_classes, device=self.device)
        is_thing = torch.isin(merged.slot_class, things)
        # One transfer of the small per-segment tables.
        table = torch.cat(
            [
                torch.stack(
                    [segment_id, merged.slot_class, is_thing.long(), slot_track, merged.area], -1
                ).double(),
                merged.box.double(),
                torch.stack([merged.slot_score, merged.median_depth], -1).double(),
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
                )
                for r in rows
            ]
            results.append(
                FrameResult(
                    int(frame[i]), semantic[i], track_map[i], merged.depth[i].float(), panoptic[i], segments
                )
            )
        return results
