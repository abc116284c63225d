"""EDM preconditioning (Karras et al. 2022) for the unified kernel ``x_t = m x0 + s z`` (docs/math.md §13).

:class:`EDMPrecond` wraps a plain network ``F`` (e.g. :class:`diffinv.core.networks.ScoreMLP`) into an
ε-model with the interface ``(x, t, y, mask) -> ε̂`` that :func:`diffinv.core.samplers.conditional_score` and
:func:`diffinv.core.losses.dsm_loss` use, so everything downstream is unchanged. With ``σ = s/m`` and
``x̂ = x/m``::

    D(x̂; σ) = c_skip x̂ + c_out F(c_in x̂; c_noise),     ε̂ = (x̂ - D)/σ = c_in (σ c_in x̂ - σ_data F)

    c_skip = σ_d²/(σ² + σ_d²),  c_out = σ σ_d/√(σ² + σ_d²),  c_in = 1/√(σ² + σ_d²),  c_noise = ¼ ln σ.

``c_in x̂ = x/√(s² + m² σ_d²)`` is the state divided by its own standard deviation for data of std ``σ_d``.
"""

from __future__ import annotations

import torch
from torch import nn

from diffinv.core.formulations import Formulation


class EDMPrecond(nn.Module):
    """ε-model ``(x, t, y, mask) -> ε̂`` around an inner network ``net(u, c_noise, y, mask) -> F`` (math §13).

    ``net`` is called with the scaled state ``u = c_in x̂`` (shape of ``x``) and ``c_noise = ¼ ln σ(t)`` in
    place of ``t`` (shape ``x.shape[:-1]``); ``y`` and ``mask`` pass through. ``x_dim``, ``y_dim`` and
    ``mask_dim`` are the inner network's.
    """

    def __init__(self, net: nn.Module, formulation: Formulation, sigma_data: float = 1.0):
        super().__init__()
        sigma_data = float(sigma_data)
        if not (sigma_data > 0 and sigma_data < float("inf")):
            raise ValueError(f"sigma_data must be a finite number > 0, got {sigma_data!r}")
        self.net, self.formulation, self.sigma_data = net, formulation, sigma_data
        for name in ("x_dim", "y_dim", "mask_dim"):
            if hasattr(net, name):
                setattr(self, name, getattr(net, name))

    def coefficients(self, t: torch.Tensor) -> dict[str, torch.Tensor]:
        """``m, s, σ, c_skip, c_out, c_in`` at ``t``, shape ``t.shape + (1,)``; ``c_noise``, ``t.shape``."""
        sigma = self.formulation.sigma(t)
        sd2, sig2 = self.sigma_data**2, sigma**2
        root = torch.sqrt(sig2 + sd2)
        col = lambda v: v.unsqueeze(-1)  # noqa: E731
        return {
            "m": col(self.formulation.m(t)),
            "s": col(self.formulation.s(t)),
            "sigma": col(sigma),
            "c_skip": col(sd2 / (sig2 + sd2)),
            "c_out": col(sigma * self.sigma_data / root),
            "c_in": col(1 / root),
            "c_noise": 0.25 * torch.log(sigma),
        }

    def forward(
        self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``ε̂ = c_in (σ c_in x̂ - σ_d F(c_in x̂; c_noise))``, no cancellation at small σ."""
        c = self.coefficients(t)
        u = c["c_in"] * (x / c["m"])
        F = self.net(u, c["c_noise"], y, mask)
        return c["c_in"] * (c["sigma"] * u - self.sigma_data * F)

    def denoiser(
        self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``D(x̂; σ) = c_skip x̂ + c_out F`` at ``x̂ = x/m(t)``: the network's estimate of ``E[x0 | x_t]``."""
        c = self.coefficients(t)
        x_hat = x / c["m"]
        return c["c_skip"] * x_hat + c["c_out"] * self.net(c["c_in"] * x_hat, c["c_noise"], y, mask)
