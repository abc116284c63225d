"""Conditional denoising score matching (docs/math.md §6, eq. 6.1) in the ε-parameterisation."""

from __future__ import annotations

import torch

from diffinv.core.formulations import Formulation


def dsm_loss(
    eps_model,
    formulation: Formulation,
    x0: torch.Tensor,
    y: torch.Tensor,
    mask: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    """Monte Carlo estimate of ``E || ε̂(x_t, t, y, η) - z ||²`` (docs/math.md §6.1 with ``ŝ = -ε̂/s``).

    ``t ~ U(t_eps, T)``, ``z ~ N(0, I)``, ``x_t = m(t) x0 + s(t) z``; the squared norm is summed over the
    components of x and averaged over the batch. Its minimiser is the true conditional score.
    ``reduction="sum"`` sums over the batch instead (0, with a gradient of 0, for an empty batch): one
    process's share under data parallelism, weighted by
    :meth:`diffinv.training.module.ScoreModule.training_step`.
    """
    if reduction not in ("mean", "sum"):
        raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
    if x0.ndim != 2 or y.ndim != 2 or x0.shape[0] != y.shape[0]:
        raise ValueError(
            f"x0 and y must be (batch, dim) with equal batch sizes, got {tuple(x0.shape)}, {tuple(y.shape)}"
        )
    n = x0.shape[0]
    t = formulation.t_eps + (formulation.T - formulation.t_eps) * torch.rand(
        n, generator=generator, device=x0.device, dtype=x0.dtype
    )
    z = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
    x_t = formulation.perturb(x0, t, z)
    per_pair = ((eps_model(x_t, t, y, mask) - z) ** 2).sum(dim=-1)
    return per_pair.mean() if reduction == "mean" else per_pair.sum()
