"""The conditional MLP score network (docs/math.md §7, paper Appendix B).

``ε̂(x_t, t, y, η)``: an MLP with ReLU activations whose input is the concatenation of ``x_t``, the
measurement ``y``, the optional sensor mask ``η`` (docs/math.md §8) and an embedding of ``t``. It predicts the
noise ``z`` of ``x_t = m x0 + s z``; the score is ``-ε̂ / s(t)`` (docs/math.md §6).
"""

from __future__ import annotations

import math

import torch
from torch import nn


class FourierTimeEmbedding(nn.Module):
    """``[t, sin(2π w t), cos(2π w t)]``, fixed random frequencies ``w ~ N(0, scale²)``
    (docs/math.md §7, choice)."""

    def __init__(self, features: int = 16, scale: float = 4.0, seed: int = 0):
        super().__init__()
        if features < 1:
            raise ValueError(f"time embedding features must be >= 1, got {features!r}")
        gen = torch.Generator().manual_seed(seed)
        self.register_buffer("freqs", scale * torch.randn(features, generator=gen))
        self.dim = 2 * features + 1

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        t = t.unsqueeze(-1)
        angle = 2 * math.pi * t * self.freqs
        return torch.cat([t, torch.sin(angle), torch.cos(angle)], dim=-1)


class ScoreMLP(nn.Module):
    """Conditional ε-network: ``depth`` hidden layers of ``width`` units with ReLU (docs/math.md §7)."""

    def __init__(
        self,
        x_dim: int,
        y_dim: int,
        mask_dim: int = 0,
        width: int = 256,
        depth: int = 2,
        time_features: int = 16,
        time_scale: float = 4.0,
    ):
        super().__init__()
        for name, value, low in (
            ("x_dim", x_dim, 1),
            ("y_dim", y_dim, 0),
            ("mask_dim", mask_dim, 0),
            ("width", width, 1),
            ("depth", depth, 1),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        self.x_dim, self.y_dim, self.mask_dim = x_dim, y_dim, mask_dim
        self.time_embedding = FourierTimeEmbedding(time_features, time_scale)
        layers: list[nn.Module] = []
        fan_in = x_dim + y_dim + mask_dim + self.time_embedding.dim
        for _ in range(depth):
            layers += [nn.Linear(fan_in, width), nn.ReLU()]
            fan_in = width
        layers.append(nn.Linear(fan_in, x_dim))
        self.mlp = nn.Sequential(*layers)

    def forward(
        self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """ε̂ for ``x`` (..., x_dim), ``t`` (...), ``y`` (..., y_dim), ``mask`` (..., mask_dim) or None."""
        self._check(x, t, y, mask)
        parts = [x, y, self.time_embedding(t.to(x.dtype))]
        if self.mask_dim:
            parts.insert(2, mask.to(x.dtype))
        return self.mlp(torch.cat(parts, dim=-1))

    def _check(self, x, t, y, mask) -> None:
        batch = x.shape[:-1]
        if x.shape[-1] != self.x_dim:
            raise ValueError(f"x has last dimension {x.shape[-1]}, the network expects x_dim={self.x_dim}")
        if y.shape != (*batch, self.y_dim):
            raise ValueError(
                f"y has shape {tuple(y.shape)}, expected {(*batch, self.y_dim)} (y_dim={self.y_dim})"
            )
        if t.shape != batch:
            raise ValueError(f"t has shape {tuple(t.shape)}, expected the batch shape {tuple(batch)}")
        if self.mask_dim and (mask is None or mask.shape != (*batch, self.mask_dim)):
            got = None if mask is None else tuple(mask.shape)
            raise ValueError(
                f"mask has shape {got}, expected {(*batch, self.mask_dim)} (mask_dim={self.mask_dim})"
            )
        if not self.mask_dim and mask is not None:
            raise ValueError("a mask was given to a network built with mask_dim=0")
