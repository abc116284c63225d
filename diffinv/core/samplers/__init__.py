"""Reverse-process samplers: the λ-family SDE, the probability-flow ODE and the fast samplers in σ
(docs/math.md §5, §12), in k-diffusion's shape.

- :mod:`~diffinv.core.samplers.grids` — time grids from the formulation: uniform, Karras ρ, log-SNR;
- :mod:`~diffinv.core.samplers.solvers` — small solver functions over an explicit grid;
- :mod:`~diffinv.core.samplers.scores` — the score a sampler calls (:func:`conditional_score`), call counting
  (:class:`CountingScore`), its σ-variable view, the final step to σ = 0 (:func:`step_to_zero`);
- :mod:`~diffinv.core.samplers.api` — the samplers as configs and users call them, ``sampler(score_fn,
  formulation, x_T, *, steps, schedule, ...)``: :func:`sample_sde` (Euler–Maruyama), :func:`sample_ode`
  (adaptive rk45), :func:`sample_heun`, :func:`sample_dpmpp_2m`, :func:`sample_dpmpp_3m`,
  :func:`sample_dpmpp_2m_sde`.

For a grid of your own, call a solver directly (the samplers of ``api`` also turn autograd off)::

    ts = karras_times(form, 30, rho=5.0, dtype=x_T.dtype)
    with torch.no_grad():
        x = step_to_zero(score_fn, form, euler_maruyama(score_fn, form, x_T, ts, lam=1.0))
"""

from diffinv.core.samplers.api import (
    sample_dpmpp_2m,
    sample_dpmpp_2m_sde,
    sample_dpmpp_3m,
    sample_heun,
    sample_ode,
    sample_sde,
)
from diffinv.core.samplers.grids import SCHEDULES, karras_times, logsnr_times, time_grid, uniform_times
from diffinv.core.samplers.scores import (
    FINAL_STEPS,
    CountingScore,
    ScoreFn,
    conditional_score,
    end_width_error,
    step_to_zero,
)
from diffinv.core.samplers.solvers import dopri5, dpmpp, euler_maruyama, heun

__all__ = [
    "FINAL_STEPS",
    "SCHEDULES",
    "CountingScore",
    "ScoreFn",
    "conditional_score",
    "dopri5",
    "dpmpp",
    "end_width_error",
    "euler_maruyama",
    "heun",
    "karras_times",
    "logsnr_times",
    "sample_dpmpp_2m",
    "sample_dpmpp_2m_sde",
    "sample_dpmpp_3m",
    "sample_heun",
    "sample_ode",
    "sample_sde",
    "step_to_zero",
    "time_grid",
    "uniform_times",
]
