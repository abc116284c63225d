"""Time grids for the samplers (docs/math.md §5.2, §12.4): ``steps + 1`` strictly decreasing times from ``T``
to ``t_eps``, built from the formulation — uniform in t, Karras et al.'s ρ-schedule in σ, uniform in log-SNR.

:func:`time_grid` picks one by name (:data:`SCHEDULES`); each end point is exact in the requested dtype.
"""

from __future__ import annotations

import math

import torch

from diffinv.core.formulations import Formulation

SCHEDULES = ("uniform", "karras", "logsnr")  # docs/math.md §12.4


def time_grid(
    formulation: Formulation,
    steps: int,
    schedule: str = "uniform",
    *,
    rho: float = 7.0,
    dtype=torch.float64,
    device=None,
) -> torch.Tensor:
    """``steps + 1`` strictly decreasing times from ``T`` to ``t_eps``, both exact in ``dtype``."""
    if schedule == "uniform":
        return uniform_times(formulation, steps, dtype=dtype, device=device)
    if schedule == "karras":
        return karras_times(formulation, steps, rho=rho, dtype=dtype, device=device)
    if schedule == "logsnr":
        return logsnr_times(formulation, steps, dtype=dtype, device=device)
    raise ValueError(f"unknown schedule {schedule!r}; choose one of {list(SCHEDULES)}")


def uniform_times(formulation: Formulation, steps: int, *, dtype=torch.float64, device=None) -> torch.Tensor:
    """``t_k = T - k (T - t_eps)/N``: the paper's grid (docs/math.md §5.2)."""
    start, end = torch.tensor([formulation.T, formulation.t_eps], dtype=dtype, device=device)
    grid = start + (end - start) * torch.linspace(0, 1, check_steps(steps) + 1, dtype=dtype, device=device)
    grid[0], grid[-1] = start, end
    return grid


def karras_times(
    formulation: Formulation, steps: int, *, rho: float = 7.0, dtype=torch.float64, device=None
) -> torch.Tensor:
    """Karras et al.'s ρ-schedule in σ, ``σ_k = (σ_max^{1/ρ} + k/N (σ_min^{1/ρ} - σ_max^{1/ρ}))^ρ`` with
    ``σ_max = σ(T)``, ``σ_min = σ(t_eps)``, mapped back by ``t_of_sigma`` (docs/math.md §12.4)."""
    rho = float(rho)
    if not (math.isfinite(rho) and rho > 0):
        raise ValueError(f"rho must be a finite number > 0, got {rho!r}")
    sig_max, sig_min = _sigma_span(formulation)
    ramp = torch.linspace(0, 1, check_steps(steps) + 1, dtype=torch.float64)
    sigmas = (sig_max ** (1 / rho) + ramp * (sig_min ** (1 / rho) - sig_max ** (1 / rho))) ** rho
    return _times_of_sigmas(formulation, sigmas, dtype, device)


def logsnr_times(formulation: Formulation, steps: int, *, dtype=torch.float64, device=None) -> torch.Tensor:
    """Uniform in log-SNR ``ln(m²/s²) = -2 ln σ``: ``ln σ_k`` equally spaced from ``ln σ(T)`` to
    ``ln σ(t_eps)`` (docs/math.md §12.4). For VE it equals the uniform-t grid (geometric σ)."""
    sig_max, sig_min = _sigma_span(formulation)
    ramp = torch.linspace(0, 1, check_steps(steps) + 1, dtype=torch.float64)
    sigmas = torch.exp(math.log(sig_max) + ramp * (math.log(sig_min) - math.log(sig_max)))
    return _times_of_sigmas(formulation, sigmas, dtype, device)


def check_steps(steps, name: str = "steps") -> int:
    """``steps`` as an int >= 1, or a ValueError naming ``name``."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {steps!r}")
    return steps


def _sigma_span(formulation: Formulation) -> tuple[float, float]:
    ends = torch.tensor([formulation.T, formulation.t_eps], dtype=torch.float64)
    sig_max, sig_min = formulation.sigma(ends).tolist()
    return sig_max, sig_min


def _times_of_sigmas(formulation: Formulation, sigmas: torch.Tensor, dtype, device) -> torch.Tensor:
    """Times of a decreasing σ grid: end points exactly ``T`` and ``t_eps``, clamped in ``dtype``."""
    t = formulation.t_of_sigma(sigmas)
    t[0], t[-1] = formulation.T, formulation.t_eps
    span = torch.tensor([formulation.T, formulation.t_eps], dtype=dtype, device=device)
    t = torch.clamp(t.to(dtype=dtype, device=device), span[1], span[0])
    t[0], t[-1] = span[0], span[1]
    if not bool((t[1:] < t[:-1]).all()):
        raise ValueError(
            f"the {len(t) - 1}-step grid has repeated times in {dtype}: use fewer steps or float64"
        )
    return t
