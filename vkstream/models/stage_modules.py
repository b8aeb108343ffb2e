"""The network as the three inference stages run it, and which checkpoint weights each stage takes.

The stages split the network differently from its training modules: the backbone stage ends at the
neck's fused pyramid, and each head stage starts with its own branch of the neck (the kernel stage
with the mask features' 3x3 and 1x1 convolutions, the depth stage with the depth features' two 3x3
convolutions, all at the mask stride). One tensor then crosses from the backbone stage to the heads
instead of two, and the stages' costs even out: two processes running one half each keep both of a
CPU's cores busy.
"""

from __future__ import annotations

from collections.abc import Mapping

from torch import Tensor, nn

from vkstream.models.backbone import BackboneNeck, depth_branch, mask_branch
from vkstream.models.config import ModelConfig
from vkstream.models.depth_head import DepthHead
from vkstream.models.kernel_head import KernelHead
from vkstream.models.options import STAGE_NAMES
from vkstream.models.video_knet import VideoKNet


class EncoderStage(nn.Module):
    """Stage ``backbone_neck``: RGB in 0..1 -> (the neck's fused pyramid,), which both heads start
    from (a tuple, as every stage returns)."""

    def __init__(self, backbone_neck: BackboneNeck) -> None:
        super().__init__()
        self.backbone_neck = backbone_neck

    def forward(self, images: Tensor) -> tuple[Tensor]:
        return (self.backbone_neck.fuse(images),)


class SegmentStage(nn.Module):
    """Stage ``kernel_head``: (fused pyramid, previous kernels, has-previous flags) -> kernels, mask
    logits, class logits, embeddings."""

    def __init__(self, mask_feats: nn.Module, kernel_head: KernelHead) -> None:
        super().__init__()
        self.mask_feats = mask_feats
        self.kernel_head = kernel_head

    def forward(
        self, fused: Tensor, previous: Tensor, has_previous: Tensor
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        return self.kernel_head(self.mask_feats(fused), previous, has_previous)


class DepthStage(nn.Module):
    """Stage ``depth_head``: (fused pyramid, kernels, mask logits) -> (query depth, dense depth)."""

    def __init__(self, depth_feats: nn.Module, depth_head: DepthHead) -> None:
        super().__init__()
        self.depth_feats = depth_feats
        self.depth_head = depth_head

    def forward(self, fused: Tensor, kernels: Tensor, mask_logits: Tensor) -> tuple[Tensor, Tensor]:
        return self.depth_head(self.depth_feats(fused), kernels, mask_logits)


_MASK_BRANCH = "backbone_neck.mask_feats."
_DEPTH_BRANCH = "backbone_neck.depth_feats."
"""Where a :class:`VideoKNet` checkpoint keeps the weights of the neck's two branches."""


def stage_modules(model: VideoKNet) -> dict[str, nn.Module]:
    """Each stage's module, sharing ``model``'s weights."""
    neck = model.backbone_neck
    return {
        "backbone_neck": EncoderStage(neck),
        "kernel_head": SegmentStage(neck.mask_feats, model.kernel_head),
        "depth_head": DepthStage(neck.depth_feats, model.depth_head),
    }


def build_stage(name: str, cfg: ModelConfig) -> nn.Module:
    """A freshly initialised module of stage ``name`` (without weights it does not run), for
    :func:`stage_weights` to load."""
    if name == "backbone_neck":
        neck = BackboneNeck(cfg)
        neck.mask_feats = neck.depth_feats = None  # the head stages'
        return EncoderStage(neck)
    if name == "kernel_head":
        return SegmentStage(mask_branch(cfg.neck_channels), KernelHead(cfg))
    if name == "depth_head":
        return DepthStage(depth_branch(cfg.neck_channels), DepthHead(cfg))
    raise ValueError(f"unknown stage {name!r}; the stages are {', '.join(STAGE_NAMES)}")


def stage_weights(name: str, state: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """The weights of :func:`build_stage`'s module ``name`` in a :class:`VideoKNet` state dict,
    named as that module's."""
    if name == "backbone_neck":
        return {
            k: v
            for k, v in state.items()
            if k.startswith("backbone_neck.") and not k.startswith((_MASK_BRANCH, _DEPTH_BRANCH))
        }
    if name == "kernel_head":
        return {
            **_renamed(state, _MASK_BRANCH, "mask_feats."),
            **_renamed(state, "kernel_head.", "kernel_head."),
        }
    if name == "depth_head":
        return {
            **_renamed(state, _DEPTH_BRANCH, "depth_feats."),
            **_renamed(state, "depth_head.", "depth_head."),
        }
    raise ValueError(f"unknown stage {name!r}; the stages are {', '.join(STAGE_NAMES)}")


def _renamed(state: Mapping[str, Tensor], prefix: str, to: str) -> dict[str, Tensor]:
    return {to + k.removeprefix(prefix): v for k, v in state.items() if k.startswith(prefix)}
