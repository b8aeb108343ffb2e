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
    """Which kernel each pixel takes, in block layout for further lookups."""

    kernels: Tensor
    """[B,s*s,Yb,Xb] long: the kernel of pixel (r, q) of block (Y, X) at [:, r * s + q, Y, X]."""
    image_size: tuple[int, int]
    mixed: Tensor
    """[B,Yb,Xb] bool: the blocks whose pixels may take different kernels; every other block's pixels
    take the kernel of its first pixel. (A mask, not indices: batches are sliced and joined item by
    item.)"""


class BlockUpsampler:
    """Bilinear x ``stride`` upsampling of chosen kernels' maps, for one grid size and image size.

    Most blocks lie inside one segment: their four corner cells have the same winner, which then wins
    all their pixels (with equal scores exactly so: a bilinear value is a positive mix of the corner
    values, so a kernel ahead at all four corners is ahead everywhere between them). Only the other
    blocks, along segment borders, weigh their candidates pixel by pixel.
    """

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
        along = (1 - frac, frac)  # weights of the first and the second neighbour inside a block
        s = stride
        # (column q weights, row r weights) broadcast against corner values laid out as candidate
        # blocks [M,C,1,1] -> [M,C,s,s], or as pixels [B,s*s,Yb,Xb] (position r*s+q).
        self._weights = {
            "candidates": tuple(w.view(1, 1, 1, s) for w in along) + tuple(w.view(1, 1, s, 1) for w in along),
            "pixels": tuple(w.repeat(s).view(1, s * s, 1, 1) for w in along)
            + tuple(w.repeat_interleave(s).view(1, s * s, 1, 1) for w in along),
        }
        # [M,s*s]: the pixels of M blocks, one row each.
        self._weights["rows"] = tuple(w.view(1, s * s) for w in self._weights["pixels"])

    def candidates(self, leaders: Tensor) -> Tensor:
        """[B,K,hg,wg] the K best kernels of each cell -> [B,4K,Yb,Xb] candidate kernels per block
        (corner c's leaders at c*K .. c*K + K - 1; corners top-left, top-right, bottom-left, bottom-right)."""
        padded = F.pad(leaders.float(), (1, 1, 1, 1), mode="replicate").long()
        return torch.cat([self._corner(padded, dy, dx) for dy, dx in _CORNERS], dim=1)

    def choose(
        self, maps: Tensor, candidates: Tensor, rank: Callable[[Tensor, Tensor, Tensor], Tensor] | None = None
    ) -> PixelChoice:
        """The candidate with the highest interpolated [B,N,hg,wg] ``maps`` value at each pixel.

        ``rank(values, kernels, batch)`` turns the interpolated values [M,C,s,s] of the candidate
        kernels [M,C] of M blocks of batch items [M] into what is compared (e.g. a score times the
        sigmoid of interpolated logits).
        """
        b, c, yb, xb = candidates.shape
        s = self.stride
        per_corner = c // 4
        first = candidates[:, ::per_corner]  # [B,4,Yb,Xb]: each corner's winner
        mixed = (first != first[:, :1]).any(1)  # [B,Yb,Xb]: blocks on a border between segments
        kernels = first[:, :1].expand(b, s * s, yb, xb).clone()
        where = mixed.nonzero(as_tuple=True)
        if where[0].numel():
            batch, y, x = where
            kernels_m = candidates[batch, :, y, x]  # [M,C]
            corners = _corner_values(F.pad(maps, (1, 1, 1, 1), mode="replicate"), batch, kernels_m, y, x)
            values = self._interpolate([c[..., None, None] for c in corners], maps, "candidates")
            if rank is not None:
                values = rank(values, kernels_m, batch)
            # max(dim) rather than argmax: argmax over a short strided dim is ~40x slower on a CPU.
            best = values.flatten(2).max(1).indices  # [M,s*s]
            kernels[batch, :, y, x] = kernels_m.gather(1, best)
        return PixelChoice(kernels, self.image_size, mixed)

    def kernels(self, choice: PixelChoice) -> Tensor:
        """[B,H,W] long: the kernel each pixel took."""
        return self._to_image(choice.kernels)

    def values(self, maps: Tensor, choice: PixelChoice) -> Tensor:
        """[B,H,W]: each pixel's bilinearly upsampled value of its chosen kernel's map in [B,N,hg,wg].

        A block whose pixels share one kernel reads that kernel's four corner values once; only the
        mixed blocks read them pixel by pixel."""
        padded = F.pad(maps, (1, 1, 1, 1), mode="replicate")
        block_kernel = choice.kernels[:, :1]
        corners = [self._corner(padded, dy, dx).gather(1, block_kernel) for dy, dx in _CORNERS]
        values = self._interpolate(corners, maps, "pixels")
        batch, y, x = choice.mixed.nonzero(as_tuple=True)
        if batch.numel():
            corners_m = _corner_values(padded, batch, choice.kernels[batch, :, y, x], y, x)  # [M,s*s] each
            values[batch, :, y, x] = self._interpolate(corners_m, maps, "rows")
        return self._to_image(values)

    def upsample(self, maps: Tensor) -> Tensor:
        """Plain bilinear upsampling of a few [B,C,hg,wg] maps, cropped to [B,C,H,W]."""
        up = F.interpolate(maps, scale_factor=float(self.stride), mode="bilinear", align_corners=False)
        return up[..., : self.image_size[0], : self.image_size[1]]

    def _corner(self, padded: Tensor, dy: int, dx: int) -> Tensor:
        hg, wg = self.grid_size
        return padded[..., dy : dy + hg + 1, dx : dx + wg + 1]

    def _interpolate(self, corners: list[Tensor], like: Tensor, layout: str) -> Tensor:
        """Bilinear values between the top-left, top-right, bottom-left and bottom-right corner values,
        with PyTorch's arithmetic: along the row first, then between the rows; elementwise, so an item's
        values never depend on the rest of the batch. ``layout``: see ``self._weights``."""
        q0, q1, r0, r1 = (w.to(device=like.device, dtype=like.dtype) for w in self._weights[layout])
        tl, tr, bl, br = corners
        return (tl * q0 + tr * q1) * r0 + (bl * q0 + br * q1) * r1

    def _to_image(self, blocks: Tensor) -> Tensor:
        """[B,s*s,Yb,Xb] block layout -> [B,H,W] pixels (blocks start half a cell above/left)."""
        b, _, yb, xb = blocks.shape
        s = self.stride
        image = blocks.view(b, s, s, yb, xb).permute(0, 3, 1, 4, 2).reshape(b, yb * s, xb * s)
        h, w = self.image_size
        half = s // 2
        return image[:, half : half + h, half : half + w]


def _corner_values(padded: Tensor, batch: Tensor, kernels: Tensor, y: Tensor, x: Tensor) -> list[Tensor]:
    """The four corner values of blocks (``batch``, ``y``, ``x``) [M] in the maps of ``kernels``
    [M,C] of the padded [B,N,hg+2,wg+2] maps: [M,C] per corner, in ``_CORNERS`` order (one flat
    lookup each: indexing with four index tensors is several times slower on a CPU)."""
    _, n, hp, wp = padded.shape
    flat = padded.contiguous().view(-1)
    base = ((batch[:, None] * n + kernels) * hp + y[:, None]) * wp + x[:, None]
    return [flat.take(base + (dy * wp + dx)) for dy, dx in _CORNERS]
