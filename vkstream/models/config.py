"""Everything that defines a Video K-Net: architecture, losses, panoptic merge and tracker settings.

A checkpoint stores this config; two models are interchangeable exactly when their configs are equal.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from vkstream.data.classes import NUM_CLASSES, THING_IDS


class LossWeights(BaseModel):
    """Loss weights and Hungarian costs; defaults are the reference KITTI-STEP / PolyphonicFormer values."""

    model_config = ConfigDict(extra="forbid")

    cls: float = Field(2.0, ge=0, description="sigmoid focal classification, per stage")
    mask_bce: float = Field(1.0, ge=0, description="mask binary cross-entropy, per stage")
    mask_dice: float = Field(4.0, ge=0, description="mask dice, per stage")
    semantic: float = Field(1.0, ge=0, description="cross-entropy of the initial stuff masks")
    track_ce: float = Field(0.25, ge=0, description="multi-positive cross-entropy of the embeddings")
    track_l2: float = Field(1.0, ge=0, description="L2 on the cosine similarity of the embeddings")
    depth_query: float = Field(5.0, ge=0, description="depth of the queries inside their matched masks")
    depth_dense: float = Field(1.0, ge=0, description="the dense depth map")
    focal_alpha: float = Field(0.25, ge=0, le=1)
    focal_gamma: float = Field(2.0, ge=0)
    cost_cls: float = Field(2.0, ge=0, description="Hungarian cost of the focal class term")
    cost_dice: float = Field(4.0, ge=0, description="Hungarian cost of the dice term")
    cost_mask: float = Field(1.0, ge=0, description="Hungarian cost of the mask BCE term")


class MergeConfig(BaseModel):
    """The panoptic merge of the reference's joint path."""

    model_config = ConfigDict(extra="forbid")

    thing_score: float = Field(0.25, ge=0, le=1, description="thing segments scoring less are dropped")
    overlap: float = Field(0.6, ge=0, le=1, description="min visible area / (mask >= mask_prob) area")
    mask_prob: float = Field(0.5, gt=0, lt=1, description="a pixel belongs to a mask from this probability")
    duplicate_iou: float = Field(
        1.0,
        gt=0,
        le=1,
        description="a thing kernel whose mask overlaps a better-scoring one of its class by more than this "
        "IoU is dropped as a duplicate (1: never, the reference)",
    )


class TrackerConfig(BaseModel):
    """The online tracker (quasi-dense style bi-softmax against a short memory of tracks)."""

    model_config = ConfigDict(extra="forbid")

    match_score: float = Field(
        0.5, ge=0, le=1, description="min bi-softmax similarity (or mask IoU) to match"
    )
    det_score: float = Field(0.3, ge=0, le=1, description="min detection score to continue a track")
    new_score: float = Field(0.35, ge=0, le=1, description="min detection score to start a track")
    min_cosine: float = Field(
        0.5,
        ge=-1,
        le=1,
        description="min embedding cosine to match (the L2 loss trains 1 vs 0); -1 = bi-softmax only",
    )
    max_shift: float = Field(
        0.0,
        ge=0,
        description="motion gate: max centre shift per frame since the track was last seen, in box "
        "sizes (0 = none)",
    )
    cascade: bool = Field(
        False,
        description="match the tracks seen in the last frame first, then the older ones with what is "
        "left (DeepSORT's matching cascade); False: all at once (QDTrack)",
    )
    iou_first: float = Field(
        0.0,
        ge=0,
        le=1,
        description="learned association: a detection whose visible mask overlaps a track of the last "
        "frame by at least this mask IoU keeps that track before embeddings are compared (0 = off)",
    )
    memory_frames: int = Field(5, ge=1, description="frames a track survives without a match")
    momentum: float = Field(0.8, ge=0, le=1, description="weight of the new embedding in the memory")
    capacity: int = Field(64, ge=1, description="tracks one stream's memory holds")
    dup_iou_low: float = Field(0.3, ge=0, le=1, description="duplicate box IoU for scores < det_score")
    dup_iou_high: float = Field(0.7, ge=0, le=1, description="duplicate box IoU otherwise")
    mask_iou: float = Field(0.5, ge=0.5, le=1, description="min mask IoU in the mask_iou association")
    rounds: int = Field(4, ge=1, description="rounds of the vectorised greedy assignment")


class ModelConfig(BaseModel):
    """An online Video K-Net with PolyphonicFormer depth queries."""

    model_config = ConfigDict(extra="forbid")

    backbone: str = Field("resnet50", description="timm model name, created with features_only")
    pretrained: bool = Field(False, description="load timm's ImageNet weights (needs network access)")
    neck_channels: int = Field(256, ge=8, description="FPN, semantic FPN and kernel width")
    mask_stride: Literal[4, 8] = Field(4, description="stride of the mask, depth and feature maps")
    num_classes: int = Field(NUM_CLASSES, ge=2)
    thing_classes: tuple[int, ...] = Field(tuple(sorted(THING_IDS)), min_length=1)
    num_thing_kernels: int = Field(100, ge=1)
    num_stages: int = Field(3, ge=1, description="kernel-update stages (and depth-update stages)")
    num_heads: int = Field(8, ge=1, description="attention heads of self-attention and kernel linking")
    ffn_dim: int = Field(2048, ge=8, description="hidden width of the kernel FFNs")
    head_dim: int = Field(256, ge=8, description="hidden width of the class, mask and embedding heads")
    embed_dim: int = Field(256, ge=8, description="association embedding size")
    depth_min_m: float = Field(0.01, gt=0)
    depth_max_m: float = Field(80.0, gt=0)
    association: Literal["embedding", "mask_iou"] = Field(
        "embedding",
        description="learned embeddings (Video K-Net) or mask IoU to the last frame (K-Net + IoU)",
    )
    losses: LossWeights = Field(default_factory=LossWeights)
    merge: MergeConfig = Field(default_factory=MergeConfig)
    tracker: TrackerConfig = Field(default_factory=TrackerConfig)

    @model_validator(mode="after")
    def _check(self) -> ModelConfig:
        bad = [c for c in self.thing_classes if not 0 <= c < self.num_classes]
        if bad:
            raise ValueError(f"thing_classes {bad} are outside 0..{self.num_classes - 1}")
        if len(set(self.thing_classes)) != len(self.thing_classes):
            raise ValueError(f"thing_classes {list(self.thing_classes)} repeat a class")
        if len(self.thing_classes) == self.num_classes:
            raise ValueError("at least one class must be stuff")
        if self.neck_channels % self.num_heads:
            raise ValueError(
                f"neck_channels {self.neck_channels} is not divisible by num_heads {self.num_heads}"
            )
        if self.depth_max_m <= self.depth_min_m:
            raise ValueError(f"depth_max_m {self.depth_max_m} must exceed depth_min_m {self.depth_min_m}")
        return self

    @property
    def stuff_classes(self) -> tuple[int, ...]:
        """Classes with one kernel each, in class order."""
        return tuple(c for c in range(self.num_classes) if c not in self.thing_classes)

    @property
    def tracks_masks(self) -> bool:
        """Whether detections and tracks carry their masks on the mask grid (mask-IoU matching)."""
        return self.association == "mask_iou" or self.tracker.iou_first > 0

    @property
    def num_kernels(self) -> int:
        """Thing kernels first, then one kernel per stuff class."""
        return self.num_thing_kernels + len(self.stuff_classes)


def model_presets() -> dict[str, ModelConfig]:
    """Named configs: ``tiny`` (tests), ``synth_small`` (CPU training), ``kitti_r50`` (the reference)."""
    return {
        "tiny": ModelConfig(
            backbone="mobilenetv3_small_050",
            neck_channels=32,
            num_thing_kernels=10,
            num_stages=2,
            num_heads=2,
            ffn_dim=64,
            head_dim=32,
            embed_dim=32,
        ),
        "synth_small": ModelConfig(
            backbone="regnetx_002",
            neck_channels=64,
            num_thing_kernels=40,
            num_stages=3,
            num_heads=4,
            ffn_dim=256,
            head_dim=64,
            embed_dim=64,
            # The synthetic world's backdrop stands 60-240 m away: depth is predicted up to where it ends.
            depth_max_m=250.0,
            # Tracking losses x4: at the reference weights a CPU-length run leaves the embeddings too weak.
            losses=LossWeights(track_ce=1.0, track_l2=4.0),
        ),
        "kitti_r50": ModelConfig(),
    }


def preset(name: str) -> ModelConfig:
    """One of :func:`model_presets`, with a clear error for an unknown name."""
    presets = model_presets()
    if name not in presets:
        raise ValueError(f"unknown model preset {name!r}; choose one of {', '.join(sorted(presets))}")
    return presets[name]
