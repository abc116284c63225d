"""Conditional denoising score matching (docs/math.md §6, eq. 6.1) in the ε-parameterisation."""

from __future__ import annotations

import math

import torch

from diffinv.core.formulations import Formulation

T_SAMPLINGS = ("uniform", "lognormal")  # distribution of t (docs/math.md §6.1, §13.3)
WEIGHTINGS = ("none", "edm")  # weight of the per-sample ε-loss (docs/math.md §13.2)


def dsm_loss(
    eps_model,
    formulation: Formulation,
    x0: torch.Tensor,
    y: torch.Tensor,
    mask: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    reduction: str = "mean",
    *,
    share: tuple[int, int] | None = None,
    t_sampling: str = "uniform",
    p_mean: float = -1.2,
    p_std: float = 1.2,
    weighting: str = "none",
    sigma_data: float = 1.0,
) -> torch.Tensor:
    """Monte Carlo estimate of ``E w(σ) || ε̂(x_t, t, y, η) - z ||²`` (docs/math.md §6.1 with ``ŝ = -ε̂/s``).

    ``z ~ N(0, I)``, ``x_t = m(t) x0 + s(t) z``; the squared norm is summed over the components of x and
    averaged over the batch. Its minimiser is the true conditional score whatever ``w`` and the law of t.

    - ``t_sampling="uniform"`` (default, the paper): ``t ~ U(t_eps, T)``; ``"lognormal"`` (EDM):
      ``ln σ ~ N(p_mean, p_std²)``, ``t = t_of_sigma(σ)`` clamped into ``[t_eps, T]`` (docs/math.md §13.3).
    - ``weighting="none"`` (default): ``w = 1``, eq. (6.1); ``"edm"``: ``w = 1 + σ²/σ_data²``, EDM's
      ``λ(σ) ||D - x0||²`` written for ε (docs/math.md §13.2).

    The defaults draw and compute exactly what this function always did.
    ``reduction="sum"`` sums over the batch instead (0, with a gradient of 0, for an empty batch): one
    process's share under data parallelism, weighted by
    :meth:`diffinv.training.module.ScoreModule.training_step`. ``share=(offset, total)``: ``x0`` is rows
    ``offset … offset + n`` of a global batch of ``total`` pairs; t and z are drawn for all ``total`` and
    these rows kept, so the processes of a data-parallel step, whose generators are seeded alike, together
    use exactly the draws of one process on the whole batch (docs/usage.md §11).
    """
    if reduction not in ("mean", "sum"):
        raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
    if x0.ndim != 2 or y.ndim != 2 or x0.shape[0] != y.shape[0]:
        raise ValueError(
            f"x0 and y must be (batch, dim) with equal batch sizes, got {tuple(x0.shape)}, {tuple(y.shape)}"
        )
    if t_sampling not in T_SAMPLINGS:
        raise ValueError(f"unknown t_sampling {t_sampling!r}; choose one of {list(T_SAMPLINGS)}")
    if weighting not in WEIGHTINGS:
        raise ValueError(f"unknown weighting {weighting!r}; choose one of {list(WEIGHTINGS)}")
    for name, value, positive in (
        ("p_mean", p_mean, False),
        ("p_std", p_std, True),
        ("sigma_data", sigma_data, True),
    ):
        if not (math.isfinite(float(value)) and (float(value) > 0 or not positive)):
            raise ValueError(f"{name} must be a finite number{' > 0' if positive else ''}, got {value!r}")
    n = x0.shape[0]
    offset, total = (0, n) if share is None else share
    if not 0 <= offset <= offset + n <= total:
        raise ValueError(f"share=({offset}, {total}) does not hold the batch's {n} rows")
    rows = slice(offset, offset + n)
    if t_sampling == "uniform":
        t = formulation.t_eps + (formulation.T - formulation.t_eps) * torch.rand(
            total, generator=generator, device=x0.device, dtype=x0.dtype
        )
    else:
        t = lognormal_times(formulation, total, p_mean, p_std, generator, x0.device, x0.dtype)
    z = torch.randn((total, x0.shape[1]), generator=generator, device=x0.device, dtype=x0.dtype)
    t, z = t[rows], z[rows]
    x_t = formulation.perturb(x0, t, z)
    per_pair = ((eps_model(x_t, t, y, mask) - z) ** 2).sum(dim=-1)
    if weighting == "edm":
        per_pair = per_pair * (1 + formulation.sigma(t) ** 2 / sigma_data**2)
    return per_pair.mean() if reduction == "mean" else per_pair.sum()


def lognormal_times(
    formulation: Formulation,
    n: int,
    p_mean: float = -1.2,
    p_std: float = 1.2,
    generator: torch.Generator | None = None,
    device=None,
    dtype=torch.float32,
) -> torch.Tensor:
    """``n`` times with ``ln σ(t) ~ N(p_mean, p_std²)`` (EDM's training law), clamped into ``[t_eps, T]``
    (docs/math.md §13.3). Computed in float64, returned in ``dtype``."""
    log_sigma = p_mean + p_std * torch.randn(n, generator=generator, device=device, dtype=torch.float64)
    t = formulation.t_of_sigma(torch.exp(log_sigma)).to(dtype)
    span = torch.tensor([formulation.t_eps, formulation.T], dtype=dtype, device=t.device)
    return torch.clamp(t, span[0], span[1])  # clamped in dtype: the cast cannot leave the span
