"""The network as the three inference stages run it, and which checkpoint weights each stage takes.

The stages split the network differently from its training modules: the depth branch of the neck
(two 3x3 convolutions at the mask stride, which only the depth head reads) runs in the depth stage.
The backbone stage then hands on the fused pyramid, the same size as the depth features, and the
stages' costs even out: on one CPU thread the backbone stage took 65-71 ms of a 621x188 frame and
the heads with post-processing 35-38, and the branch takes 14-17, so each half now costs about 52
(the two actors of ``vkstream bench`` used 73 and 72 ms of CPU a frame) and two processes running
one half each keep both busy.
"""

from __future__ import annotations

from collections.abc import Mapping

from torch import Tensor, nn

from vkstream.models.backbone import BackboneNeck, depth_branch
from vkstream.models.config import ModelConfig
from vkstream.models.depth_head import DepthHead
from vkstream.models.kernel_head import KernelHead
from vkstream.models.options import STAGE_NAMES
from vkstream.models.video_knet import VideoKNet


class EncoderStage(nn.Module):
    """Stage ``backbone_neck``: RGB in 0..1 -> (the kernel head's mask features, the fused pyramid)."""

    def __init__(self, backbone_neck: BackboneNeck) -> None:
        super().__init__()
        self.backbone_neck = backbone_neck

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        fused = self.backbone_neck.fuse(images)
        return self.backbone_neck.mask_feats(fused), fused


class DepthStage(nn.Module):
    """Stage ``depth_head``: (fused pyramid, kernels, mask logits) -> (query depth, dense depth)."""

    def __init__(self, depth_feats: nn.Module, depth_head: DepthHead) -> None:
        super().__init__()
        self.depth_feats = depth_feats
        self.depth_head = depth_head

    def forward(self, fused: Tensor, kernels: Tensor, mask_logits: Tensor) -> tuple[Tensor, Tensor]:
        return self.depth_head(self.depth_feats(fused), kernels, mask_logits)


_DEPTH_BRANCH = "backbone_neck.depth_feats."
"""Where a :class:`VideoKNet` checkpoint keeps the weights of the neck's depth branch."""


def stage_modules(model: VideoKNet) -> dict[str, nn.Module]:
    """Each stage's module, sharing ``model``'s weights."""
    return {
        "backbone_neck": EncoderStage(model.backbone_neck),
        "kernel_head": model.kernel_head,
        "depth_head": DepthStage(model.backbone_neck.depth_feats, model.depth_head),
    }


def build_stage(name: str, cfg: ModelConfig) -> nn.Module:
    """A freshly initialised module of stage ``name`` (without weights it does not run), for
    :func:`stage_weights` to load."""
    if name == "backbone_neck":
        neck = BackboneNeck(cfg)
        neck.depth_feats = None  # the depth stage's
        return EncoderStage(neck)
    if name == "kernel_head":
        return KernelHead(cfg)
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
            if k.startswith("backbone_neck.") and not k.startswith(_DEPTH_BRANCH)
        }
    if name == "kernel_head":
        return _renamed(state, "kernel_head.", "")
    if name == "depth_head":
        return {
            **_renamed(state, _DEPTH_BRANCH, "depth_feats."),
            **_renamed(state, "depth_head.", "depth_head."),
        }
    raise ValueError(f"unknown stage {name!r}; the stages are {', '.join(STAGE_NAMES)}")


def _renamed(state: Mapping[str, Tensor], prefix: str, to: str) -> dict[str, Tensor]:
    return {to + k.removeprefix(prefix): v for k, v in state.items() if k.startswith(prefix)}
