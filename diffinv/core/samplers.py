"""Reverse-process samplers: the λ-family SDE and the probability-flow ODE (docs/math.md §5).

Functional, k-diffusion style: a sampler takes ``score_fn(x, t) -> ∇_x log p_t(x | y)`` with the
conditioning closed over (see :func:`conditional_score`), a formulation and the starting point
``x_T``. ``x`` may have any leading batch shape ``(..., d)`` — e.g. ``(n_measurements, n_samples, d)``
— and ``t`` is passed as a tensor of shape ``x.shape[:-1]``. No Python loop runs over samples.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torchdiffeq import odeint
from tqdm.auto import tqdm

from diffinv.core.formulations import Formulation

ScoreFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

ODE_METHODS = {"rk45": "dopri5", "heun": "heun2", "euler": "euler"}  # ours -> torchdiffeq's names


def conditional_score(eps_model, formulation: Formulation, y: torch.Tensor, mask: torch.Tensor | None = None):
    """The score ``ŝ_θ(x, y, t) = -ε̂(x, t, y, η) / s(t)`` of an ε-network (docs/math.md §6), y (and η) closed
    over.

    ``y`` (and ``mask``) broadcast against ``x.shape[:-1]``: pass ``y`` of shape ``(n, 1, m)`` with ``x``
    of shape ``(n, k, d)`` to draw ``k`` samples for each of ``n`` measurements in one batch.
    """

    def score_fn(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        batch = x.shape[:-1]
        yb = y.expand(*batch, y.shape[-1])
        mb = None if mask is None else mask.expand(*batch, mask.shape[-1])
        return -eps_model(x, t, yb, mb) / formulation.s(t).unsqueeze(-1)

    return score_fn


def sample_sde(
    score_fn: ScoreFn,
    formulation: Formulation,
    x_T: torch.Tensor,
    steps: int,
    lam: float = 1.0,
    generator: torch.Generator | None = None,
    denoise: bool = False,
    progress: bool = False,
) -> torch.Tensor:
    """Integrate the λ-family reverse SDE (docs/math.md §5.1) from ``T`` to ``t_eps`` by Euler–Maruyama
    (docs/math.md §5.2).

    ``x_{k+1} = x_k - h_k [f x_k - ½(1+λ) g² ŝ(x_k, t_k)] + √(λ h_k) g z_k`` on a uniform grid of ``steps``
    steps. λ = 1 is the reverse-time SDE, λ = 0 the probability-flow ODE by explicit Euler. ``denoise``
    applies the Tweedie step ``x_0 ≈ (x + s² ŝ)/m`` at ``t_eps`` (docs/math.md §5, off by default).
    """
    steps = _check_steps(steps)
    lam = float(lam)
    if not (math.isfinite(lam) and lam >= 0):
        raise ValueError(f"lam must be a finite number >= 0, got {lam!r}")
    _check_state(x_T)
    ts = _time_grid(formulation, steps, x_T)
    x = x_T
    for k in tqdm(range(steps), desc=f"SDE λ={lam:g}", disable=not progress, leave=False):
        t, h = ts[k], ts[k] - ts[k + 1]
        tb = t.expand(x.shape[:-1])
        g2 = formulation.g2(t)
        drift = formulation.f(t) * x - 0.5 * (1 + lam) * g2 * score_fn(x, tb)
        x = x - h * drift
        if lam > 0:
            noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
            x = x + torch.sqrt(lam * h * g2) * noise
    return _tweedie(score_fn, formulation, x) if denoise else x


def sample_ode(
    score_fn: ScoreFn,
    formulation: Formulation,
    x_T: torch.Tensor,
    method: str = "rk45",
    steps: int | None = None,
    rtol: float = 1e-5,
    atol: float = 1e-5,
    denoise: bool = False,
) -> torch.Tensor:
    """Integrate the probability-flow ODE ``dx/dt = f x - ½ g² ŝ(x, t)`` (docs/math.md §5, λ = 0), ``T`` to
    ``t_eps``.

    ``method``: ``"rk45"`` — adaptive Dormand–Prince 5(4) with ``rtol``/``atol`` (the paper's SciPy
    integrator; the error norm is taken over the whole batch, as when SciPy integrates a flattened
    batch); ``"heun"`` (2nd order) and ``"euler"`` on a uniform grid of ``steps`` steps. Integration by
    torchdiffeq.
    """
    if method not in ODE_METHODS:
        raise ValueError(f"unknown ODE method {method!r}; choose one of {sorted(ODE_METHODS)}")
    _check_state(x_T)
    span = torch.tensor([formulation.T, formulation.t_eps], dtype=x_T.dtype, device=x_T.device)
    if method == "rk45":
        if not (rtol > 0 and atol > 0):
            raise ValueError(f"rtol and atol must be > 0, got rtol={rtol!r}, atol={atol!r}")
        options = {"step_t": span}  # never step past t_eps: the formulation is undefined for t < 0
    else:
        steps = _check_steps(steps, f"steps (required for method={method!r})")
        options = {"grid_constructor": lambda func, y0, t: _uniform_grid(t[0], t[-1], steps)}

    def velocity(t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return formulation.f(t) * x - 0.5 * formulation.g2(t) * score_fn(x, t.expand(x.shape[:-1]))

    x = odeint(velocity, x_T, span, method=ODE_METHODS[method], rtol=rtol, atol=atol, options=options)[-1]
    return _tweedie(score_fn, formulation, x) if denoise else x


def _tweedie(score_fn: ScoreFn, formulation: Formulation, x: torch.Tensor) -> torch.Tensor:
    """Tweedie denoising at ``t_eps``: ``x_0 ≈ (x + s² ŝ) / m`` (docs/math.md §5)."""
    t = torch.full(x.shape[:-1], formulation.t_eps, dtype=x.dtype, device=x.device)
    m, s = formulation.m(t).unsqueeze(-1), formulation.s(t).unsqueeze(-1)
    return (x + s**2 * score_fn(x, t)) / m


def _time_grid(formulation: Formulation, steps: int, like: torch.Tensor) -> torch.Tensor:
    span = torch.tensor([formulation.T, formulation.t_eps], dtype=like.dtype, device=like.device)
    return _uniform_grid(span[0], span[1], steps)


def _uniform_grid(start: torch.Tensor, end: torch.Tensor, steps: int) -> torch.Tensor:
    """``steps + 1`` equally spaced times whose end points are exactly ``start`` and ``end``."""
    grid = torch.linspace(0, 1, steps + 1, dtype=start.dtype, device=start.device)
    grid = start + (end - start) * grid
    grid[0], grid[-1] = start, end
    return grid


def _check_steps(steps, name: str = "steps") -> int:
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {steps!r}")
    return steps


def _check_state(x_T) -> None:
    if not isinstance(x_T, torch.Tensor) or x_T.ndim < 1 or not x_T.is_floating_point():
        raise ValueError(
            f"x_T must be a floating-point tensor of shape (..., d), got "
            f"{type(x_T).__name__} {getattr(x_T, 'shape', '')}"
        )
