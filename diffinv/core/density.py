"""Log-density of a score model through the probability-flow ODE (docs/math.md §17).

:func:`log_prob` integrates ``dx/dt = v(x, t) = f x - ½ g² ŝ(x, t)`` (docs/math.md §5.3) forward from
``t_eps`` to ``T`` jointly with ``dℓ/dt = ∇·v`` (the instantaneous change of variables, §17.1) and returns
``log q(x) = log N(x(T); 0, prior_std² I) + ℓ(T)``, the log-density of what the ODE sampler draws. The
divergence is exact (the trace over the d unit vectors, §17.2) or Hutchinson's estimate with probes fixed for
the whole integration (§17.3).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torchdiffeq import odeint

from diffinv.core.formulations import Formulation
from diffinv.core.samplers.scores import ScoreFn

DIVERGENCES = ("auto", "exact", "hutchinson")
PROBES = ("rademacher", "gaussian")
RTOL = ATOL = 1e-6  # default tolerances: 1e-5 (rk45's) leaves 0.01 nats where mixture components meet
EXACT_MAX_DIM = 64  # divergence="auto": exact up to this many dimensions, Hutchinson above (math §17.3)


def log_prob(
    score_fn: ScoreFn,
    formulation: Formulation,
    x: torch.Tensor,
    *,
    divergence: str = "auto",
    n_probes: int = 1,
    probe: str = "rademacher",
    rtol: float = RTOL,
    atol: float = ATOL,
    generator: torch.Generator | None = None,
    terminal_log_prob: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> torch.Tensor:
    """``log q(x)`` (float64, shape ``x.shape[:-1]``) of the model whose score is ``score_fn``,
    by the probability-flow ODE (docs/math.md §17.1): the density at ``t_eps`` of the flow's push-forward of
    the terminal law, by default the samplers' start ``N(0, prior_std² I)`` (so ``q`` is the law of the
    ODE sampler's samples), or any ``terminal_log_prob(x_T)`` (float64 (..., d) -> (...)); with the exact
    score and the exact ``log p_T``, ``q = p_{t_eps}``. ``x`` (..., d) in the dtype the score takes; the ODE
    state and the log-density are integrated in float64 (adaptive Dormand–Prince 5(4) of torchdiffeq with
    ``rtol``, ``atol``) and the score called at ``x`` cast to ``x``'s dtype.

    ``divergence``: ``exact`` (``tr J`` as the sum of ``e_iᵀ J e_i`` over the d unit vectors, §17.2),
    ``hutchinson`` (the mean of ``εᵀ J ε`` over ``n_probes`` Rademacher or Gaussian ``probe`` vectors per
    point, drawn once from ``generator`` and kept for the whole integration, §17.3) or ``auto`` (exact for
    d <= :data:`EXACT_MAX_DIM`). Each velocity evaluation is one score call and one backward pass over a batch
    of d (exact) or ``n_probes`` copies of ``x``: memory grows by that factor, so batch accordingly. The score
    is only called at times in ``[t_eps, T]``. No gradient flows back to ``x`` (values only); not for use
    under ``torch.inference_mode``.
    """
    method = _check_options(divergence, n_probes, probe, rtol, atol, x)
    if method == "exact":
        directions, weight = _basis(x), 1.0
    else:
        directions, weight = _draw_probes(probe, n_probes, x, generator), 1.0 / n_probes
    span = torch.tensor([formulation.t_eps, formulation.T], dtype=torch.float64, device=x.device)

    def augmented(t: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]):
        t = torch.clamp(t, span[0], span[1])  # dopri5's first-step probe and t + h rounding (§12.8)
        with torch.enable_grad():
            # one copy of the state per direction: one forward and one backward pass give every v_kᵀ J v_k
            copies = state[0].detach().expand(directions.shape).clone().requires_grad_(True)
            score = score_fn(copies.to(x.dtype), t.to(x.dtype).expand(copies.shape[:-1])).to(torch.float64)
            (vjp,) = torch.autograd.grad(score, copies, grad_outputs=directions)
        div_score = weight * (vjp * directions).sum((0, -1))
        velocity = formulation.f(t) * state[0] - 0.5 * formulation.g2(t) * score[0].detach()
        return velocity, x.shape[-1] * formulation.f(t) - 0.5 * formulation.g2(t) * div_score

    start = (x.detach().to(torch.float64), torch.zeros(x.shape[:-1], dtype=torch.float64, device=x.device))
    x_T, delta = (
        part[-1]
        for part in odeint(
            augmented, start, span, method="dopri5", rtol=rtol, atol=atol, options={"step_t": span}
        )
    )
    if terminal_log_prob is None:
        return gaussian_log_density(x_T, formulation.prior_std) + delta
    return terminal_log_prob(x_T) + delta


def gaussian_log_density(x: torch.Tensor, std: float) -> torch.Tensor:
    """``log N(x; 0, std² I)`` over the last dimension."""
    d = x.shape[-1]
    return -0.5 * (x**2).sum(-1) / std**2 - 0.5 * d * math.log(2 * math.pi * std**2)


def _basis(x: torch.Tensor) -> torch.Tensor:
    """The d unit vectors for every point, (d, ..., d) float64: ``Σ_i e_iᵀ J e_i = tr J`` (§17.2)."""
    eye = torch.eye(x.shape[-1], dtype=torch.float64, device=x.device)
    return eye.reshape(x.shape[-1], *[1] * (x.ndim - 1), x.shape[-1]).expand(x.shape[-1], *x.shape)


def _draw_probes(kind: str, n_probes: int, x: torch.Tensor, generator) -> torch.Tensor:
    """``n_probes`` probe vectors per point (float64), E[ε εᵀ] = I: Rademacher (±1) or standard normal."""
    shape = (n_probes, *x.shape)
    z = torch.randn(shape, generator=generator, dtype=torch.float64, device=x.device)
    return torch.sign(z) if kind == "rademacher" else z


def _check_options(divergence, n_probes, probe, rtol, atol, x) -> str:
    """The divergence method ``auto`` resolves to, after checking every option (one-line errors)."""
    if divergence not in DIVERGENCES:
        raise ValueError(f"divergence must be one of {DIVERGENCES}, got {divergence!r}")
    if probe not in PROBES:
        raise ValueError(f"probe must be one of {PROBES}, got {probe!r}")
    if isinstance(n_probes, bool) or not isinstance(n_probes, int) or n_probes < 1:
        raise ValueError(f"n_probes must be an integer >= 1, got {n_probes!r}")
    if not (rtol > 0 and atol > 0):
        raise ValueError(f"rtol and atol must be > 0, got rtol={rtol!r}, atol={atol!r}")
    if x.ndim < 1 or not x.is_floating_point():
        raise ValueError(f"x must be a floating-point tensor (..., d), got {x.dtype} {tuple(x.shape)}")
    if torch.is_inference_mode_enabled():
        raise RuntimeError("log_prob needs autograd for the divergence: call it outside torch.inference_mode")
    if divergence == "auto":
        return "exact" if x.shape[-1] <= EXACT_MAX_DIM else "hutchinson"
    return divergence
