"""The samplers as a user (and a ``sampler`` config node) calls them: ``sampler(score_fn, formulation, x_T,
*, steps, schedule, ...)`` returns ``x`` at σ = 0: the solver runs from ``T`` to ``t_eps``, a final step
goes on to σ = 0 (docs/math.md §5, §5.4, §12).

Each builds its grid with :func:`~diffinv.core.samplers.grids.time_grid` and runs one solver of
:mod:`diffinv.core.samplers.solvers` on it, through :func:`_run`: the one place that checks the state, turns
autograd off and takes the final step. ``x`` may have any leading batch shape ``(..., d)`` — e.g.
``(n_measurements, n_samples, d)`` — and ``score_fn`` is called with ``t`` of shape ``x.shape[:-1]``, only
ever at times in ``[t_eps, T]``.

Sampling keeps no autograd history (``torch.no_grad``: memory stays that of one step, whatever the number of
steps); ``grad=True`` keeps it, for gradients through the sampler. ``no_grad`` rather than
``inference_mode``, so that the samples can be used in autograd afterwards.
"""

from __future__ import annotations

import functools
import math

import torch

from diffinv.core.formulations import Formulation
from diffinv.core.samplers.grids import check_steps, time_grid
from diffinv.core.samplers.scores import ScoreFn, SigmaNodes, check_final_step, step_to_zero
from diffinv.core.samplers.solvers import SOLVER_TYPES, dopri5, dpmpp, euler_maruyama, heun


def sample_sde(
    score_fn: ScoreFn,
    formulation: Formulation,
    x_T: torch.Tensor,
    steps: int,
    *,
    lam: float = 1.0,
    schedule: str = "logsnr",
    rho: float = 7.0,
    generator: torch.Generator | None = None,
    final_step: str = "flow",
    progress: bool = False,
    grad: bool = False,
) -> torch.Tensor:
    """The λ-family reverse SDE (docs/math.md §5.1) by Euler–Maruyama (§5.2) on a grid of ``steps`` steps
    (uniform in log σ by default, the same for every formulation; ``schedule="uniform"`` is the paper's grid
    uniform in t): λ = 1 the reverse-time SDE, λ = 0 the probability-flow ODE by explicit Euler.
    ``steps`` calls of ``score_fn`` +1 for the ``final_step`` to σ = 0 (§5.4)."""
    lam = _check_lam(lam)

    def solve(x, ts):
        return euler_maruyama(score_fn, formulation, x, ts, lam=lam, generator=generator, progress=progress)

    return _run(solve, score_fn, formulation, x_T, steps, schedule, rho, final_step=final_step, grad=grad)


def sample_ode(
    score_fn: ScoreFn,
    formulation: Formulation,
    x_T: torch.Tensor,
    method: str = "rk45",
    *,
    rtol: float = 1e-5,
    atol: float = 1e-5,
    final_step: str = "flow",
    grad: bool = False,
) -> torch.Tensor:
    """The probability-flow ODE (docs/math.md §5.3, λ = 0) by adaptive Dormand–Prince 5(4) with ``rtol`` and
    ``atol``: the paper's SciPy integrator (``method="rk45"``, the only one; fixed-step ODE solvers are
    :func:`sample_heun`, :func:`sample_dpmpp_3m`, and Euler is ``sample_sde(lam=0)``)."""
    if method != "rk45":
        raise ValueError(
            f"unknown ODE method {method!r}: sample_ode is adaptive rk45; for fixed steps use sample_heun, "
            "sample_dpmpp_2m/3m, or sample_sde(lam=0) (explicit Euler)"
        )
    if not (rtol > 0 and atol > 0):
        raise ValueError(f"rtol and atol must be > 0, got rtol={rtol!r}, atol={atol!r}")
    _check_state(x_T)
    solve = functools.partial(dopri5, score_fn, formulation, rtol=rtol, atol=atol)
    return _finish(solve, score_fn, formulation, x_T, final_step=final_step, grad=grad)


def sample_heun(
    score_fn: ScoreFn,
    formulation: Formulation,
    x_T: torch.Tensor,
    *,
    steps: int,
    schedule: str = "karras",
    rho: float = 7.0,
    final_step: str = "flow",
    grad: bool = False,
) -> torch.Tensor:
    """EDM's deterministic Heun sampler (docs/math.md §12.5) on the ``schedule`` grid: ``2 steps - 1``
    calls of ``score_fn`` +1 for the ``final_step`` to σ = 0."""
    solve = _in_sigma(heun, score_fn, formulation)
    return _run(solve, score_fn, formulation, x_T, steps, schedule, rho, final_step=final_step, grad=grad)


def sample_dpmpp_2m(
    score_fn: ScoreFn,
    formulation: Formulation,
    x_T: torch.Tensor,
    *,
    steps: int,
    schedule: str = "logsnr",
    rho: float = 7.0,
    solver_type: str = "midpoint",
    max_step_ratio: float = 2.0,
    final_step: str = "flow",
    grad: bool = False,
) -> torch.Tensor:
    """DPM-Solver++(2M), data prediction, multistep in ``ℓ = -ln σ`` (docs/math.md §12.6);
    ``solver_type="midpoint"`` is k-diffusion's ``sample_dpmpp_2m``. A step more than ``max_step_ratio``
    times longer in ``ℓ`` than the previous one is taken at first order. ``steps`` calls of ``score_fn``, +1
    for the ``final_step`` to σ = 0."""
    return _sample_dpmpp(
        score_fn, formulation, x_T, steps, schedule, rho, final_step=final_step, grad=grad,
        order=2, lam=0.0, solver_type=solver_type, max_step_ratio=max_step_ratio,
    )  # fmt: skip


def sample_dpmpp_3m(
    score_fn: ScoreFn,
    formulation: Formulation,
    x_T: torch.Tensor,
    *,
    steps: int,
    schedule: str = "logsnr",
    rho: float = 7.0,
    max_step_ratio: float = 2.0,
    final_step: str = "flow",
    grad: bool = False,
) -> torch.Tensor:
    """DPM-Solver++(3M), data prediction, multistep in ``ℓ = -ln σ`` (docs/math.md §12.6): orders 1, 2, then
    3; a step more than ``max_step_ratio`` times longer in ``ℓ`` than the previous one at first order.
    ``steps`` calls of ``score_fn``, +1 for the ``final_step`` to σ = 0. The quadratic term carries the exact
    weight ``I_2 = 1 - 2 I_1/ĥ``, twice the reference implementations' ``φ_3``, which leaves them second
    order."""
    return _sample_dpmpp(
        score_fn, formulation, x_T, steps, schedule, rho, final_step=final_step, grad=grad,
        order=3, lam=0.0, solver_type="heun", max_step_ratio=max_step_ratio,
    )  # fmt: skip


def sample_dpmpp_2m_sde(
    score_fn: ScoreFn,
    formulation: Formulation,
    x_T: torch.Tensor,
    *,
    steps: int,
    schedule: str = "logsnr",
    rho: float = 7.0,
    lam: float = 1.0,
    solver_type: str = "midpoint",
    max_step_ratio: float = 2.0,
    generator: torch.Generator | None = None,
    final_step: str = "flow",
    grad: bool = False,
) -> torch.Tensor:
    """SDE-DPM-Solver++(2M) for the λ-family reverse SDE (docs/math.md §12.7): ``lam`` is the family's λ
    (k-diffusion's ``eta``); λ = 1 the reverse-time SDE, λ = 0 gives :func:`sample_dpmpp_2m`. The linear part
    and the noise are integrated exactly, ``D`` is extrapolated linearly in ``ℓ``. ``steps`` calls of
    ``score_fn`` +1 for the ``final_step`` to σ = 0."""
    return _sample_dpmpp(
        score_fn, formulation, x_T, steps, schedule, rho, final_step=final_step, grad=grad,
        order=2, lam=lam, solver_type=solver_type, max_step_ratio=max_step_ratio, generator=generator,
    )  # fmt: skip


def _run(
    solve, score_fn, formulation, x_T, steps, schedule, rho, *, final_step: str, grad: bool
) -> torch.Tensor:
    """``solve(x_T, ts)`` on the ``steps``-step ``schedule`` grid (``ts``), finished by :func:`_finish`."""
    steps = check_steps(steps)
    _check_state(x_T)
    ts = time_grid(formulation, steps, schedule, rho=rho, dtype=x_T.dtype, device=x_T.device)
    return _finish(lambda x: solve(x, ts), score_fn, formulation, x_T, final_step=final_step, grad=grad)


def _finish(solve, score_fn, formulation, x_T, *, final_step: str, grad: bool) -> torch.Tensor:
    """``solve(x_T)`` without autograd unless ``grad``, then the ``final_step`` from ``t_eps`` to σ = 0: the
    one place every sampler ends (docs/math.md §5.4)."""
    check_final_step(final_step)
    with torch.set_grad_enabled(grad):
        return step_to_zero(score_fn, formulation, solve(x_T), final_step)


def _in_sigma(solver, score_fn, formulation, **options):
    """``solve(x, ts)``: the σ-variable ``solver`` on ``x̂ = x/m`` over the grid's nodes (docs/math.md §12.1),
    back to ``x = m x̂``."""

    def solve(x: torch.Tensor, ts: torch.Tensor) -> torch.Tensor:
        nodes = SigmaNodes(score_fn, formulation, ts)
        return nodes.m[-1] * solver(nodes, x / nodes.m[0], nodes.sigmas, **options)

    return solve


def _sample_dpmpp(
    score_fn, formulation, x_T, steps, schedule, rho, *, final_step, grad, order, lam, solver_type,
    max_step_ratio, generator=None,
) -> torch.Tensor:  # fmt: skip
    """The three DPM-Solver++ samplers: their options checked, :func:`~diffinv.core.samplers.solvers.dpmpp`
    run in the σ variables on the grid."""
    if solver_type not in SOLVER_TYPES:
        raise ValueError(f"unknown solver_type {solver_type!r}; choose one of {list(SOLVER_TYPES)}")
    max_step_ratio = float(max_step_ratio)
    if not max_step_ratio >= 1:
        raise ValueError(
            f"max_step_ratio must be a number >= 1 (inf: never lower the order), got {max_step_ratio!r}"
        )
    solve = _in_sigma(
        dpmpp, score_fn, formulation, order=order, lam=_check_lam(lam), solver_type=solver_type,
        max_step_ratio=max_step_ratio, generator=generator,
    )  # fmt: skip
    return _run(solve, score_fn, formulation, x_T, steps, schedule, rho, final_step=final_step, grad=grad)


def _check_lam(lam) -> float:
    lam = float(lam)
    if not (math.isfinite(lam) and lam >= 0):
        raise ValueError(f"lam must be a finite number >= 0, got {lam!r}")
    return lam


def _check_state(x_T) -> None:
    if not isinstance(x_T, torch.Tensor) or x_T.ndim < 1 or not x_T.is_floating_point():
        raise ValueError(
            f"x_T must be a floating-point tensor of shape (..., d), got "
            f"{type(x_T).__name__} {getattr(x_T, 'shape', '')}"
        )
