"""The solvers, k-diffusion style: each a small function of (score or denoiser, state, explicit grid, options)
that returns the state at the grid's last node (docs/math.md §5, §12). Grids come from
:mod:`diffinv.core.samplers.grids`; :mod:`diffinv.core.samplers.api` wires the two together.

- :func:`euler_maruyama` — the λ-family reverse SDE in t (§5.2), 1 call per step;
- :func:`dopri5` — the probability-flow ODE, adaptive Dormand–Prince 5(4) by torchdiffeq (§5.3);
- :func:`heun` — EDM's Heun in σ (§12.5), ``2 steps - 1`` calls;
- :func:`dpmpp` — DPM-Solver++ multistep of order 2 or 3 in ``ℓ = -ln σ``, deterministic (λ = 0) or
  stochastic (§12.6–12.7), 1 call per step.

The σ-variable solvers work on ``x̂ = x/m`` with a :class:`~diffinv.core.samplers.scores.SigmaNodes` (the
score as a denoiser at each node of the grid) and its ``sigmas``. Options are keyword-only.
"""

from __future__ import annotations

import math

import torch
from torchdiffeq import odeint
from tqdm.auto import tqdm

from diffinv.core.formulations import Formulation
from diffinv.core.samplers.scores import ScoreFn, SigmaNodes

SOLVER_TYPES = ("midpoint", "heun")  # second-order correction of DPM-Solver++(2M), docs/math.md §12.6


def euler_maruyama(
    score_fn: ScoreFn,
    formulation: Formulation,
    x: torch.Tensor,
    ts: torch.Tensor,
    *,
    lam: float = 1.0,
    generator: torch.Generator | None = None,
    progress: bool = False,
) -> torch.Tensor:
    """``x_{k+1} = x_k - h_k [f x_k - ½(1+λ) g² ŝ(x_k, t_k)] + √(λ h_k) g z_k`` over ``ts`` (docs/math.md
    §5.1–5.2); λ = 0 is the probability-flow ODE by explicit Euler."""
    for k in tqdm(range(len(ts) - 1), desc=f"SDE λ={lam:g}", disable=not progress, leave=False):
        t, h = ts[k], ts[k] - ts[k + 1]
        g2 = formulation.g2(t)
        x = x - h * (formulation.f(t) * x - 0.5 * (1 + lam) * g2 * score_fn(x, t.expand(x.shape[:-1])))
        if lam > 0:
            noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
            x = x + torch.sqrt(lam * h * g2) * noise
    return x


def dopri5(
    score_fn: ScoreFn, formulation: Formulation, x: torch.Tensor, *, rtol: float, atol: float
) -> torch.Tensor:
    """The probability-flow ODE ``dx/dt = f x - ½ g² ŝ(x, t)`` from ``T`` to ``t_eps`` by adaptive
    Dormand–Prince 5(4) (torchdiffeq; docs/math.md §5.3). The error norm is taken over the whole batch, as
    when SciPy integrates a flattened batch. The score is never evaluated outside ``[t_eps, T]``: dopri5's
    initial-step probe, which can reach far beyond ``t_eps`` when the velocity at ``T`` is nearly zero (VP),
    and rounding of ``t + h`` are clamped into the span (docs/math.md §12.8)."""
    span = torch.tensor([formulation.T, formulation.t_eps], dtype=x.dtype, device=x.device)

    def velocity(t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        t = torch.clamp(t, span[1], span[0])
        return formulation.f(t) * x - 0.5 * formulation.g2(t) * score_fn(x, t.expand(x.shape[:-1]))

    # step_t: never step past t_eps, the formulation is undefined for t < 0
    return odeint(velocity, x, span, method="dopri5", rtol=rtol, atol=atol, options={"step_t": span})[-1]


def heun(nodes: SigmaNodes, x_hat: torch.Tensor, sigmas: list[float]) -> torch.Tensor:
    """EDM's deterministic Heun sampler (Karras et al. 2022, Alg. 1; docs/math.md §12.5): ``dx̂/dσ = ε(x̂; σ)``,
    Heun steps, the last one Euler."""
    steps = len(sigmas) - 1
    for k in range(steps):
        d = nodes.eps(x_hat, k)
        dsig = sigmas[k + 1] - sigmas[k]
        x_next = x_hat + dsig * d
        if k < steps - 1:
            x_next = x_hat + (0.5 * dsig) * (d + nodes.eps(x_next, k + 1))
        x_hat = x_next
    return x_hat


def dpmpp(
    nodes: SigmaNodes,
    x_hat: torch.Tensor,
    sigmas: list[float],
    *,
    order: int,
    lam: float = 0.0,
    solver_type: str = "midpoint",
    max_step_ratio: float = 2.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Exponential integrator of ``dx̂ = (1+λ)(x̂ - D) dσ/σ + √(2λσ) dW̄`` in ``ℓ = -ln σ`` (docs/math.md
    §12.6–12.7): DPM-Solver++(2M) (``order=2``, λ = 0), (3M) (``order=3``) and SDE-DPM-Solver++(2M) (λ > 0).

    Step ``k`` (``h = ℓ_{k+1} - ℓ_k``, ``ĥ = (1+λ) h``): ``x̂ ← e^{-ĥ} x̂ + I_0 D_k + I_1 d_1 + I_2 d_2
    + σ_{k+1} √(1 - e^{-2λh}) z``, with ``d_1 ≈ h D'``, ``d_2 ≈ h² D''/2`` from the previous ``D`` (as many as
    exist, up to ``order - 1``; none when ``h`` exceeds ``max_step_ratio`` times the previous step) and
    ``I_j = ∫_0^1 ĥ u^j e^{-ĥ(1-u)} du``. With one previous ``D``, ``solver_type`` weighs the correction
    ``½ I_0`` (``midpoint``, k-diffusion's) or ``I_1`` (``heun``).
    """
    ell = [-math.log(sig) for sig in sigmas]
    history: list[tuple[torch.Tensor, float]] = []  # (D_j, h_j) of the previous steps, newest first
    for k in range(len(sigmas) - 1):
        D = nodes.denoised(x_hat, k)
        h = ell[k + 1] - ell[k]
        i0, i1, i2 = phi_integrals((1 + lam) * h)
        x_hat = math.exp(-(1 + lam) * h) * x_hat + i0 * D
        usable = min(len(history), order - 1)
        if usable and h > max_step_ratio * history[0][1]:
            usable = 0  # do not extrapolate D over more than max_step_ratio times the last step (§12.6)
        if usable >= 2:
            (D1, h1), (D2, h2) = history
            r0, r1 = h1 / h, h2 / h
            d1_0, d1_1 = (D - D1) / r0, (D1 - D2) / r1
            d1 = d1_0 + (d1_0 - d1_1) * (r0 / (r0 + r1))
            d2 = (d1_0 - d1_1) / (r0 + r1)
            x_hat = x_hat + i1 * d1 + i2 * d2
        elif usable == 1:
            D1, h1 = history[0]
            weight = 0.5 * i0 if solver_type == "midpoint" else i1
            x_hat = x_hat + (weight * h / h1) * (D - D1)
        if lam > 0:
            noise = torch.randn(x_hat.shape, generator=generator, device=x_hat.device, dtype=x_hat.dtype)
            x_hat = x_hat + sigmas[k + 1] * math.sqrt(-math.expm1(-2 * lam * h)) * noise
        history = [(D, h), *history[: order - 2]]
    return x_hat


def phi_integrals(hh: float) -> tuple[float, float, float]:
    """``I_j(ĥ) = ∫_0^1 ĥ u^j e^{-ĥ(1-u)} du`` for j = 0, 1, 2 (docs/math.md §12.6), accurate for small ĥ.

    Closed forms ``I_0 = 1 - e^{-ĥ}``, ``I_1 = 1 - I_0/ĥ``, ``I_2 = 1 - 2 I_1/ĥ`` cancel for small ĥ; there
    the series ``I_j = j! ĥ Σ_n (-ĥ)^n / (n + j + 1)!`` is used instead.
    """
    i0 = -math.expm1(-hh)
    if hh > 0.1:
        i1 = 1 - i0 / hh
        return i0, i1, 1 - 2 * i1 / hh
    series = [
        hh * sum((-hh) ** n * math.factorial(j) / math.factorial(n + j + 1) for n in range(16))
        for j in (1, 2)
    ]
    return i0, series[0], series[1]
