"""Building blocks shared by the kernel and depth heads, written with matmul/einsum only."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class Attention(nn.Module):
    """Multi-head attention without masks, as plain matmuls so that every exporter takes it."""

    def __init__(self, channels: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(channels, channels)
        self.kv = nn.Linear(channels, 2 * channels)
        self.out = nn.Linear(channels, channels)

    def forward(self, query: Tensor, context: Tensor) -> Tensor:
        b, n, c = query.shape
        m = context.shape[1]
        d = c // self.heads
        q = self.q(query).view(b, n, self.heads, d).transpose(1, 2)
        k, v = self.kv(context).view(b, m, 2, self.heads, d).permute(2, 0, 3, 1, 4)
        weights = torch.softmax(q @ k.transpose(-1, -2) * d**-0.5, dim=-1)
        return self.out((weights @ v).transpose(1, 2).reshape(b, n, c))


class FFN(nn.Module):
    """Residual feed-forward block followed by LayerNorm."""

    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(channels, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, channels)
        )
        self.norm = nn.LayerNorm(channels)

    def forward(self, x: Tensor) -> Tensor:
        return self.norm(x + self.net(x))


class KernelUpdator(nn.Module):
    """K-Net's gated update: two sigmoid gates mix the features pooled under a mask and the old kernel."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.dynamic_layer = nn.Linear(channels, 2 * channels)
        self.input_layer = nn.Linear(channels, 2 * channels)
        self.input_gate = nn.Linear(channels, channels)
        self.update_gate = nn.Linear(channels, channels)
        self.norm_in = nn.LayerNorm(channels)
        self.norm_out = nn.LayerNorm(channels)
        self.input_norm_in = nn.LayerNorm(channels)
        self.input_norm_out = nn.LayerNorm(channels)
        self.fc = nn.Linear(channels, channels)
        self.fc_norm = nn.LayerNorm(channels)

    def forward(self, pooled: Tensor, kernels: Tensor) -> Tensor:
        param_in, param_out = self.dynamic_layer(pooled).chunk(2, dim=-1)
        input_in, input_out = self.input_layer(kernels).chunk(2, dim=-1)
        gate_feats = input_in * param_in
        input_gate = torch.sigmoid(self.input_norm_in(self.input_gate(gate_feats)))
        update_gate = torch.sigmoid(self.norm_in(self.update_gate(gate_feats)))
        features = update_gate * self.norm_out(param_out) + input_gate * self.input_norm_out(input_out)
        return torch.relu(self.fc_norm(self.fc(features)))


class QueryUpdate(nn.Module):
    """Gated update, self-attention over all queries, FFN: the body of one K-Net stage."""

    def __init__(self, channels: int, heads: int, ffn_dim: int) -> None:
        super().__init__()
        self.updator = KernelUpdator(channels)
        self.attention = Attention(channels, heads)
        self.attention_norm = nn.LayerNorm(channels)
        self.ffn = FFN(channels, ffn_dim)

    def forward(self, queries: Tensor, mask_logits: Tensor, features: Tensor) -> Tensor:
        return self.update_pooled(queries, mask_pool(mask_logits, features))

    def update_pooled(self, queries: Tensor, pooled: Tensor) -> Tensor:
        """The stage given the features already pooled under its masks (shared by stages that pool
        under the same masks)."""
        x = self.updator(pooled, queries)
        x = self.attention_norm(x + self.attention(x, x))
        return self.ffn(x)


def mlp_head(cin: int, hidden: int, cout: int, layers: int = 1) -> nn.Sequential:
    """``layers`` x (Linear, LayerNorm, ReLU), then a Linear to ``cout``."""
    blocks: list[nn.Module] = []
    for i in range(layers):
        blocks += [nn.Linear(cin if i == 0 else hidden, hidden), nn.LayerNorm(hidden), nn.ReLU(inplace=True)]
    blocks.append(nn.Linear(hidden if layers else cin, cout))
    return nn.Sequential(*blocks)


def mask_pool(mask_logits: Tensor, features: Tensor) -> Tensor:
    """Mean of the features under each binarised mask: [B,N,h,w] x [B,C,h,w] -> [B,N,C]."""
    # sigmoid > 0.5 is logit > 0; sign-then-clamp writes the 0/1 weights in one float pass, where a
    # comparison writes bools and converts them (four times slower on a CPU).
    weights = torch.sign(mask_logits).clamp_(min=0).to(features.dtype)
    area = weights.sum(dim=(2, 3)).unsqueeze(-1)
    return torch.einsum("bnhw,bchw->bnc", weights, features) / (area + 1.0)


def dynamic_conv(kernels: Tensor, features: Tensor) -> Tensor:
    """A 1x1 convolution with one run-time kernel per query: [B,N,C] x [B,C,h,w] -> [B,N,h,w]."""
    return torch.einsum("bnc,bchw->bnhw", kernels, features)
