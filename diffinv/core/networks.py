"""The conditional score networks (docs/math.md §7), all with the interface ``(x_t, t, y, η) -> ε̂``.

- :class:`ScoreMLP`, the paper's (Appendix B): an MLP with ReLU activations whose input is the
  concatenation of ``x_t``, the measurement ``y``, the optional sensor mask ``η`` (docs/math.md §8) and an
  embedding of ``t``.
- :class:`ScoreResMLP`: residual blocks modulated by an embedding of the condition, for one amortized model
  of every sensor layout and noise level (§7.5).
- :class:`ScoreUNet`: a small U-Net for a field on a grid (§7.4).

Each predicts the noise ``z`` of ``x_t = m x0 + s z``; the score is ``-ε̂ / s(t)`` (docs/math.md §6).
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


def _require_sizes(**sizes: tuple[int, int]) -> None:
    """Each ``name=(value, low)`` an integer ``>= low``, or a ValueError naming it."""
    for name, (value, low) in sizes.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")


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
        _require_sizes(
            x_dim=(x_dim, 1), y_dim=(y_dim, 0), mask_dim=(mask_dim, 0), width=(width, 1), depth=(depth, 1)
        )
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
        return self.mlp(torch.cat([x, self._conditions(x, t, y, mask)], dim=-1))

    def _conditions(self, x, t, y, mask) -> torch.Tensor:
        """The checked condition ``c = [y, η, e(t)]`` (η only with ``mask_dim``), in ``x``'s dtype; shared by
        :class:`ScoreResMLP`, so the checks are called unbound."""
        ScoreMLP._check(self, x, t, y, mask)
        parts = [y, self.time_embedding(t.to(x.dtype))]
        if self.mask_dim:
            parts.insert(1, mask.to(x.dtype))
        return torch.cat(parts, dim=-1)

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


class _FiLMBlock(nn.Module):
    """``h + W₂ SiLU(W₁ SiLU(LN(h)(1 + a) + b))`` with ``(a, b)`` a linear map of the embedding (FiLM, as the
    U-Net's blocks), ``W₂`` initialised to zero so the block starts as the identity (docs/math.md §7.5)."""

    def __init__(self, width: int, embedding: int):
        super().__init__()
        self.norm = nn.LayerNorm(width, elementwise_affine=False)
        self.film = nn.Linear(embedding, 2 * width)
        self.inner = nn.Linear(width, width)
        self.outer = nn.Linear(width, width)
        nn.init.zeros_(self.outer.weight)
        nn.init.zeros_(self.outer.bias)

    def forward(self, h: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        scale, shift = self.film(emb).chunk(2, dim=-1)
        u = nn.functional.silu(self.norm(h) * (1 + scale) + shift)
        return h + self.outer(nn.functional.silu(self.inner(u)))


class ScoreResMLP(nn.Module):
    """Conditional network for a vector unknown whose conditioning varies much — every sensor layout and noise
    level of one amortized model (docs/math.md §7.5): the condition ``c = [y, η, e(t)]`` is embedded by an MLP
    and modulates ``depth`` residual blocks of ``width`` units (:class:`_FiLMBlock`) that start from a linear
    map of ``[x, c]``; LayerNorm, SiLU and a linear output. The output is bounded, as EDM's networks' are: it
    is meant behind :class:`diffinv.core.precondition.EDMPrecond` (``model=resmlp``), whose skip ``c_skip x``
    lets ε̂ grow with ``x`` far out. The interface is :class:`ScoreMLP`'s."""

    def __init__(
        self,
        x_dim: int,
        y_dim: int,
        mask_dim: int = 0,
        width: int = 256,
        depth: int = 2,
        embedding: int = 128,
        time_features: int = 16,
        time_scale: float = 4.0,
    ):
        super().__init__()
        _require_sizes(
            x_dim=(x_dim, 1),
            y_dim=(y_dim, 0),
            mask_dim=(mask_dim, 0),
            width=(width, 1),
            depth=(depth, 1),
            embedding=(embedding, 1),
        )
        self.x_dim, self.y_dim, self.mask_dim = x_dim, y_dim, mask_dim
        self.time_embedding = FourierTimeEmbedding(time_features, time_scale)
        conditions = y_dim + mask_dim + self.time_embedding.dim
        self.embed = nn.Sequential(
            nn.Linear(conditions, embedding), nn.SiLU(), nn.Linear(embedding, embedding), nn.SiLU()
        )
        self.stem = nn.Linear(x_dim + conditions, width)
        self.blocks = nn.ModuleList(_FiLMBlock(width, embedding) for _ in range(depth))
        self.head = nn.Sequential(nn.LayerNorm(width), nn.SiLU(), nn.Linear(width, x_dim))

    def forward(
        self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The output for ``x`` (..., x_dim), ``t`` (...), ``y`` (..., y_dim), ``mask`` (..., mask_dim)."""
        conditions = ScoreMLP._conditions(self, x, t, y, mask)
        emb = self.embed(conditions)
        h = self.stem(torch.cat([x, conditions], dim=-1))
        for block in self.blocks:
            h = block(h, emb)
        return self.head(h)


class _ResBlock(nn.Module):
    """GroupNorm–SiLU–conv twice, the embedding applied between them as a per-channel scale and shift of the
    normalised features (FiLM, as the adaptive blocks of EDM's networks: added before the norm instead, a
    per-channel shift would be removed by it), a 1×1 skip where the channel count changes; the second conv
    starts at zero, so the block starts as its skip."""

    def __init__(self, channels_in: int, channels_out: int, embedding: int):
        super().__init__()
        self.norm1 = nn.GroupNorm(min(8, channels_in), channels_in)
        self.conv1 = nn.Conv2d(channels_in, channels_out, 3, padding=1)
        self.emb = nn.Linear(embedding, 2 * channels_out)
        self.norm2 = nn.GroupNorm(min(8, channels_out), channels_out)
        self.conv2 = nn.Conv2d(channels_out, channels_out, 3, padding=1)
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)
        self.skip = nn.Conv2d(channels_in, channels_out, 1) if channels_in != channels_out else nn.Identity()

    def forward(self, h: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        out = self.conv1(nn.functional.silu(self.norm1(h)))
        scale, shift = self.emb(emb)[:, :, None, None].chunk(2, dim=1)
        out = self.conv2(nn.functional.silu(self.norm2(out) * (1 + scale) + shift))
        return self.skip(h) + out


class ScoreUNet(nn.Module):
    """Conditional network for a field on a regular 2-D grid (docs/math.md §7.4): a small U-Net in the style
    of score_sde's DDPM++ and EDM's SongUNet, with the interface of :class:`ScoreMLP` (flat ``x``
    (..., x_dim), ``x_dim = h·w`` in the grid's row-major order).

    The sparse readings enter twice. As images: each reading is placed at its sensor's nearest grid point
    (``sensors`` (m, 2) coordinates on the grid spanning ``bounds``; readings sharing a point are averaged)
    in one channel, and a second channel marks the switched-on sensors (all of them without a mask), so
    the convolutions see where each reading was taken. And globally: an MLP of the readings (and mask) is
    added to the noise embedding, since one reading informs the whole field through the forward model.
    ``channels`` per resolution level (each level halves the grid; h and w must be divisible by
    2^(levels - 1)), ``blocks`` residual blocks per level. ``noise_dim`` 1: the last entry of ``y`` is an
    amortized model's noise input (docs/math.md §19), which only the global path takes.
    """

    def __init__(
        self,
        x_dim: int,
        y_dim: int,
        grid: list[int] | None,
        sensors: list[list[float]] | None,
        bounds: list[list[float]] | None = None,
        mask_dim: int = 0,
        noise_dim: int = 0,
        channels: tuple[int, ...] = (32, 64, 64),
        blocks: int = 1,
        embedding: int = 128,
        time_features: int = 16,
        time_scale: float = 4.0,
    ):
        super().__init__()
        if grid is None or len(grid) != 2 or sensors is None:
            raise ValueError(
                f"grid: a U-Net needs a field on a 2-D grid and its sensors' coordinates; the data file "
                f"gives grid={grid} and {'no' if sensors is None else len(sensors)} sensors "
                "(docs/design.md §9)"
            )
        h, w = (int(n) for n in grid)
        if h * w != x_dim:
            raise ValueError(f"grid {[h, w]} has {h * w} points, but x_dim={x_dim}")
        if any(n % 2 ** (len(channels) - 1) for n in (h, w)):
            raise ValueError(
                f"grid {[h, w]}: each side must be divisible by 2^{len(channels) - 1} for {channels}"
            )
        sensors = torch.as_tensor(sensors, dtype=torch.float64)
        m = y_dim - noise_dim  # the readings; an amortized model's noise input follows them
        if sensors.shape != (m, 2):
            raise ValueError(
                f"sensors must be (y_dim - noise_dim, 2) = ({m}, 2) coordinates, got {tuple(sensors.shape)}"
            )
        if mask_dim not in (0, m):
            raise ValueError(f"mask_dim must be 0 or the number of readings {m}, got {mask_dim}")
        self.x_dim, self.y_dim, self.mask_dim, self.grid = x_dim, y_dim, mask_dim, (h, w)
        self.readings = m
        low, high = torch.tensor([0.0, 0.0]), torch.tensor([1.0, 1.0])
        if bounds is not None:
            low, high = torch.as_tensor(bounds, dtype=torch.float64).T
        cell = ((sensors - low) / (high - low) * torch.tensor([h - 1, w - 1])).round().long()
        if (cell < 0).any() or (cell[:, 0] >= h).any() or (cell[:, 1] >= w).any():
            raise ValueError(f"a sensor lies outside the grid's bounds {[low.tolist(), high.tolist()]}")
        pixel = cell[:, 0] * w + cell[:, 1]
        self.register_buffer("pixel", pixel)
        self.register_buffer("pixel_count", torch.zeros(h * w).index_add_(0, pixel, torch.ones(m)))
        self.time_embedding = FourierTimeEmbedding(time_features, time_scale)
        self.embed = nn.Sequential(
            nn.Linear(self.time_embedding.dim, embedding), nn.SiLU(), nn.Linear(embedding, embedding)
        )
        self.embed_readings = nn.Sequential(
            nn.Linear(y_dim + mask_dim, embedding), nn.SiLU(), nn.Linear(embedding, embedding)
        )
        self.stem = nn.Conv2d(3, channels[0], 3, padding=1)
        self.down, self.up = nn.ModuleList(), nn.ModuleList()
        skips, width = [], channels[0]
        for level, c in enumerate(channels):
            for _ in range(blocks):
                self.down.append(_ResBlock(width, c, embedding))
                width = c
                skips.append(c)
            if level < len(channels) - 1:
                self.down.append(nn.AvgPool2d(2))
        self.middle = _ResBlock(width, width, embedding)
        for level, c in reversed(list(enumerate(channels))):
            for _ in range(blocks):
                self.up.append(_ResBlock(width + skips.pop(), c, embedding))
                width = c
            if level > 0:
                self.up.append(nn.Upsample(scale_factor=2, mode="nearest"))
        self.head = nn.Sequential(
            nn.GroupNorm(min(8, width), width), nn.SiLU(), nn.Conv2d(width, 1, 3, padding=1)
        )
        nn.init.zeros_(self.head[-1].weight)
        nn.init.zeros_(self.head[-1].bias)

    def forward(
        self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The output for ``x`` (..., x_dim), ``t`` (...), ``y`` (..., y_dim), ``mask`` (..., mask_dim)."""
        ScoreMLP._check(self, x, t, y, mask)
        batch = x.shape[:-1]
        x, t, y = x.reshape(-1, self.x_dim), t.reshape(-1), y.reshape(-1, self.y_dim)
        readings = y[:, : self.readings]
        on = torch.ones_like(readings) if mask is None else mask.reshape(-1, self.readings).to(y.dtype)
        images = torch.stack([x, self._scatter(readings * on), self._scatter(on)], dim=1)
        h = self.stem(images.reshape(-1, 3, *self.grid))
        conditions = torch.cat([y, on], dim=-1) if self.mask_dim else y
        emb = self.embed(self.time_embedding(t.to(x.dtype))) + self.embed_readings(conditions)
        emb = nn.functional.silu(emb)
        skips = []
        for layer in self.down:
            h = layer(h, emb) if isinstance(layer, _ResBlock) else layer(h)
            if isinstance(layer, _ResBlock):
                skips.append(h)
        h = self.middle(h, emb)
        for layer in self.up:
            h = layer(torch.cat([h, skips.pop()], dim=1), emb) if isinstance(layer, _ResBlock) else layer(h)
        return self.head(h).reshape(*batch, self.x_dim)

    def _scatter(self, values: torch.Tensor) -> torch.Tensor:
        """(n, y_dim) values at their sensors' grid points, averaged where sensors share one: (n, x_dim)."""
        image = values.new_zeros(values.shape[0], self.x_dim).index_add_(1, self.pixel, values)
        return image / self.pixel_count.to(values.dtype).clamp(min=1)
