"""Per-pixel decisions from mask-grid maps without resizing every map to the input size.

The panoptic merge picks, for each pixel, the kernel with the best bilinearly upsampled score. Done
naively that resizes all N kernel maps to H x W (57 maps of a 621 x 188 frame: 6.7 M values, most of
a CPU step). A pixel's bilinear value depends only on the 2 x 2 grid cells around it, and the kernel
that wins a pixel is in practice one of the kernels that win those four cells. So each 2 x 2 block
of cells gets the (up to) four winners of its corners as candidates, their corner values are gathered
once per block, and the s x s pixels the block covers get their interpolated values from one small
einsum with fixed bilinear weights. The result is PyTorch's ``interpolate(..., mode="bilinear",
align_corners=False)`` followed by an argmax, restricted to those candidates.

Block (Y, X) of a grid padded by one replicated cell on each side covers the pixels whose bilinear
neighbours are padded cells Y, Y + 1 and X, X + 1: rows s (Y - 1) + s/2 + r for r in 0..s-1, at
fraction (r + 0.5) / s between them. Replication reproduces PyTorch's clamping at the borders.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

_CORNERS = ((0, 0), (0, 1), (1, 0), (1, 1))


@dataclass
class PixelChoice:
    """Which candidate kernel each pixel takes, kept in block layout for further lookups."""

    candidates: Tensor
    """[B,4,Yb,Xb] long: the kernel winning each corner cell of each block."""
    index: Tensor
    """[B,1,Yb,Xb,s,s] long: the chosen candidate of each pixel of each block."""
    image_size: tuple[int, int]


class BlockUpsampler:
    """Bilinear x ``stride`` upsampling of chosen kernels' maps, for one grid size and image size."""

    def __init__(self, stride: int, grid_size: tuple[int, int], image_size: tuple[int, int]) -> None:
        if stride % 2:
            raise ValueError(f"the block upsampler needs an even stride, got {stride}")
        hg, wg = grid_size
        if hg * stride < image_size[0] or wg * stride < image_size[1]:
            raise ValueError(f"a {hg}x{wg} grid at stride {stride} does not cover {image_size}")
        self.stride = stride
        self.grid_size = grid_size
        self.image_size = image_size
        frac = (torch.arange(stride, dtype=torch.float32) + 0.5) / stride
        self._along = (1 - frac, frac)
        """Weights of the first and the second neighbour for the s positions inside a block."""

    def candidates(self, leaders: Tensor) -> Tensor:
        """[B,K,hg,wg] the K best kernels of each cell -> [B,4K,Yb,Xb] candidate kernels per block."""
        padded = F.pad(leaders.float(), (1, 1, 1, 1), mode="replicate").long()
        return torch.cat([self._corner(padded, dy, dx) for dy, dx in _CORNERS], dim=1)

    def choose(
        self, maps: Tensor, candidates: Tensor, rank: Callable[[Tensor, Tensor], Tensor] | None = None
    ) -> PixelChoice:
        """The candidate with the highest interpolated [B,N,hg,wg] ``maps`` value at each pixel.

        ``rank(values, candidates)`` turns the interpolated values [B,C,Yb,Xb,s,s] of the candidates
        [B,C,Yb,Xb] into what is compared (e.g. a score times the sigmoid of interpolated logits).
        """
        values = self._candidate_values(maps, candidates)
        if rank is not None:
            values = rank(values, candidates)
        # max(dim) rather than argmax: argmax over a short strided dim is ~40x slower on a CPU.
        return PixelChoice(candidates, values.max(1, keepdim=True).indices, self.image_size)

    def kernels(self, choice: PixelChoice) -> Tensor:
        """[B,H,W] long: the kernel each pixel took."""
        b, k, yb, xb = choice.candidates.shape
        s = self.stride
        chosen = choice.candidates[..., None, None].expand(b, k, yb, xb, s, s).gather(1, choice.index)
        return self._to_image(chosen[:, 0])

    def values(self, maps: Tensor, choice: PixelChoice) -> Tensor:
        """[B,H,W]: each pixel's bilinearly upsampled value of its chosen kernel's map in [B,N,hg,wg]."""
        return self._to_image(self._candidate_values(maps, choice.candidates).gather(1, choice.index)[:, 0])

    def upsample(self, maps: Tensor) -> Tensor:
        """Plain bilinear upsampling of a few [B,C,hg,wg] maps, cropped to [B,C,H,W]."""
        up = F.interpolate(maps, scale_factor=float(self.stride), mode="bilinear", align_corners=False)
        return up[..., : self.image_size[0], : self.image_size[1]]

    def _corner(self, padded: Tensor, dy: int, dx: int) -> Tensor:
        hg, wg = self.grid_size
        return padded[..., dy : dy + hg + 1, dx : dx + wg + 1]

    def _candidate_values(self, maps: Tensor, candidates: Tensor) -> Tensor:
        """[B,4,Yb,Xb,s,s] interpolated values of each block's candidates."""
        padded = F.pad(maps, (1, 1, 1, 1), mode="replicate")
        tl, tr, bl, br = (
            self._corner(padded, dy, dx).gather(1, candidates)[..., None] for dy, dx in _CORNERS
        )
        w0, w1 = (w.to(device=maps.device, dtype=maps.dtype) for w in self._along)
        # Along the row first, then between the rows, as PyTorch's bilinear kernel does; elementwise, so
        # an item's values never depend on the rest of the batch.
        top = tl * w0 + tr * w1  # [B, candidate, Yb, Xb, s]: columns q
        bottom = bl * w0 + br * w1
        return top[..., None, :] * w0[:, None] + bottom[..., None, :] * w1[:, None]

    def _to_image(self, blocks: Tensor) -> Tensor:
        """[B,Yb,Xb,s,s] block layout -> [B,H,W] pixels (blocks start half a cell above/left)."""
        b, yb, xb, s, _ = blocks.shape
        image = blocks.permute(0, 1, 3, 2, 4).reshape(b, yb * s, xb * s)
        h, w = self.image_size
        half = s // 2
        return image[:, half : half + h, half : half + w]
