"""Reverse-process samplers: the λ-family SDE and the probability-flow ODE (docs/math.md §5, §12).

Functional, k-diffusion style: a sampler takes ``score_fn(x, t) -> ∇_x log p_t(x | y)`` with the
conditioning closed over (see :func:`conditional_score`), a formulation and the starting point
``x_T``, and returns ``x`` at ``t_eps``. ``x`` may have any leading batch shape ``(..., d)`` — e.g.
``(n_measurements, n_samples, d)`` — and ``t`` is passed as a tensor of shape ``x.shape[:-1]``. No
Python loop runs over samples.

Every sampler shares the signature ``sampler(score_fn, formulation, x_T, *, steps, schedule, ...)``
(``sample_sde``/``sample_ode`` keep their positional ``steps``/``method`` for old callers) and only
ever evaluates ``score_fn`` at times in ``[t_eps, T]``. Network calls are counted by wrapping the score:
``counted = CountingScore(score_fn)``, then ``counted.calls`` (docs/math.md §12.8).

- :func:`sample_sde` — the λ-family SDE by Euler–Maruyama (§5.2), 1 call per step;
- :func:`sample_ode` — the probability-flow ODE by torchdiffeq (§5.3): euler 1, heun 2 calls per step, rk45
  adaptive;
- :func:`sample_heun` — EDM's Heun in σ (§12.5), ``2 steps - 1`` calls;
- :func:`sample_dpmpp_2m`, :func:`sample_dpmpp_3m` — DPM-Solver++ multistep in ``ℓ = -ln σ`` (§12.6),
  1 call per step;
- :func:`sample_dpmpp_2m_sde` — SDE-DPM-Solver++(2M) for any λ of the family (§12.7), 1 call per step.

Step schedules (§12.4): :func:`time_grid` with ``schedule`` one of :data:`SCHEDULES`.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable

import torch
from torchdiffeq import odeint
from tqdm.auto import tqdm

from diffinv.core.formulations import Formulation

ScoreFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

ODE_METHODS = {"rk45": "dopri5", "heun": "heun2", "euler": "euler"}  # ours -> torchdiffeq's names
SCHEDULES = ("uniform", "karras", "logsnr")  # docs/math.md §12.4
SOLVER_TYPES = ("midpoint", "heun")  # second-order correction of DPM-Solver++(2M), docs/math.md §12.6


class CountingScore:
    """Wraps a score function and counts its calls (docs/math.md §12.8): ``calls`` network evaluations,
    each over the whole batch. With ``record_times`` it also keeps every ``t`` it was called with
    (``times``: a list of 1-D float64 tensors of the distinct times of each call)."""

    def __init__(self, score_fn: ScoreFn, record_times: bool = False):
        self.score_fn, self.record_times = score_fn, record_times
        self.calls = 0
        self.times: list[torch.Tensor] = []

    def __call__(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        if self.record_times:
            self.times.append(torch.unique(t.detach().to("cpu", torch.float64)))
        return self.score_fn(x, t)


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
    *,
    schedule: str = "uniform",
    rho: float = 7.0,
) -> torch.Tensor:
    """Integrate the λ-family reverse SDE (docs/math.md §5.1) from ``T`` to ``t_eps`` by Euler–Maruyama
    (docs/math.md §5.2).

    ``x_{k+1} = x_k - h_k [f x_k - ½(1+λ) g² ŝ(x_k, t_k)] + √(λ h_k) g z_k`` on a grid of ``steps``
    steps (``schedule``, docs/math.md §12.4; uniform in t by default). λ = 1 is the reverse-time SDE, λ = 0
    the probability-flow ODE by explicit Euler. ``denoise`` applies the Tweedie step ``x_0 ≈ (x + s² ŝ)/m``
    at ``t_eps`` (docs/math.md §5, off by default). ``steps`` calls of ``score_fn`` (+1 with ``denoise``).
    """
    steps = _check_steps(steps)
    lam = _check_lam(lam)
    _check_state(x_T)
    ts = time_grid(formulation, steps, schedule, rho=rho, dtype=x_T.dtype, device=x_T.device)
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
    *,
    schedule: str = "uniform",
    rho: float = 7.0,
) -> torch.Tensor:
    """Integrate the probability-flow ODE ``dx/dt = f x - ½ g² ŝ(x, t)`` (docs/math.md §5, λ = 0), ``T`` to
    ``t_eps``.

    ``method``: ``"rk45"`` — adaptive Dormand–Prince 5(4) with ``rtol``/``atol`` (the paper's SciPy
    integrator; the error norm is taken over the whole batch, as when SciPy integrates a flattened
    batch); ``"heun"`` (2nd order, 2 calls per step) and ``"euler"`` (1 call per step) on a grid of ``steps``
    steps (``schedule``, docs/math.md §12.4; uniform in t by default). Integration by torchdiffeq. The score
    is never evaluated outside ``[t_eps, T]``: dopri5's initial-step probe, which can reach far beyond
    ``t_eps`` when the velocity at ``T`` is nearly zero (VP), and rounding of ``t + h`` are clamped into the
    span (docs/math.md §12.8).
    """
    if method not in ODE_METHODS:
        raise ValueError(f"unknown ODE method {method!r}; choose one of {sorted(ODE_METHODS)}")
    _check_state(x_T)
    span = torch.tensor([formulation.T, formulation.t_eps], dtype=x_T.dtype, device=x_T.device)
    if method == "rk45":
        if not (rtol > 0 and atol > 0):
            raise ValueError(f"rtol and atol must be > 0, got rtol={rtol!r}, atol={atol!r}")
        if schedule != "uniform":
            raise ValueError(
                f"schedule={schedule!r} applies to fixed-step methods (heun, euler); "
                "rk45 chooses its own steps"
            )
        options = {"step_t": span}  # never step past t_eps: the formulation is undefined for t < 0
    else:
        steps = _check_steps(steps, f"steps (required for method={method!r})")
        grid = time_grid(formulation, steps, schedule, rho=rho, dtype=x_T.dtype, device=x_T.device)
        options = {"grid_constructor": lambda func, y0, t: grid}

    def velocity(t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        t = torch.clamp(t, span[1], span[0])  # the initial-step probe and t + h round-off (docstring)
        return formulation.f(t) * x - 0.5 * formulation.g2(t) * score_fn(x, t.expand(x.shape[:-1]))

    x = odeint(velocity, x_T, span, method=ODE_METHODS[method], rtol=rtol, atol=atol, options=options)[-1]
    return _tweedie(score_fn, formulation, x) if denoise else x


def _tweedie(score_fn: ScoreFn, formulation: Formulation, x: torch.Tensor) -> torch.Tensor:
    """Tweedie denoising at ``t_eps``: ``x_0 ≈ (x + s² ŝ) / m`` (docs/math.md §5), formed as ``s (s ŝ)`` so
    that a tiny float32 ``s`` (small κ, docs/math.md §12.9) never meets an underflowed ``s²``."""
    t = torch.full(x.shape[:-1], formulation.t_eps, dtype=x.dtype, device=x.device)
    m, s = formulation.m(t).unsqueeze(-1), formulation.s(t).unsqueeze(-1)
    return (x + s * (s * score_fn(x, t))) / m


def _uniform_grid(start: torch.Tensor, end: torch.Tensor, steps: int) -> torch.Tensor:
    """``steps + 1`` equally spaced times whose end points are exactly ``start`` and ``end``."""
    grid = torch.linspace(0, 1, steps + 1, dtype=start.dtype, device=start.device)
    grid = start + (end - start) * grid
    grid[0], grid[-1] = start, end
    return grid


def _check_lam(lam) -> float:
    lam = float(lam)
    if not (math.isfinite(lam) and lam >= 0):
        raise ValueError(f"lam must be a finite number >= 0, got {lam!r}")
    return lam


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


# --- step schedules (docs/math.md §12.4) ------------------------------------------------------------------


def uniform_times(formulation: Formulation, steps: int, *, dtype=torch.float64, device=None) -> torch.Tensor:
    """``t_k = T - k (T - t_eps)/N``: the paper's grid (docs/math.md §5.2), built in ``dtype`` as always."""
    span = torch.tensor([formulation.T, formulation.t_eps], dtype=dtype, device=device)
    return _uniform_grid(span[0], span[1], _check_steps(steps))


def karras_times(
    formulation: Formulation, steps: int, *, rho: float = 7.0, dtype=torch.float64, device=None
) -> torch.Tensor:
    """Karras et al.'s ρ-schedule in σ, ``σ_k = (σ_max^{1/ρ} + k/N (σ_min^{1/ρ} - σ_max^{1/ρ}))^ρ`` with
    ``σ_max = σ(T)``, ``σ_min = σ(t_eps)``, mapped back by ``t_of_sigma`` (docs/math.md §12.4)."""
    rho = float(rho)
    if not (math.isfinite(rho) and rho > 0):
        raise ValueError(f"rho must be a finite number > 0, got {rho!r}")
    sig_max, sig_min = _sigma_span(formulation)
    ramp = torch.linspace(0, 1, _check_steps(steps) + 1, dtype=torch.float64)
    sigmas = (sig_max ** (1 / rho) + ramp * (sig_min ** (1 / rho) - sig_max ** (1 / rho))) ** rho
    return _times_of_sigmas(formulation, sigmas, dtype, device)


def logsnr_times(formulation: Formulation, steps: int, *, dtype=torch.float64, device=None) -> torch.Tensor:
    """Uniform in log-SNR ``ln(m²/s²) = -2 ln σ``: ``ln σ_k`` equally spaced from ``ln σ(T)`` to
    ``ln σ(t_eps)`` (docs/math.md §12.4). For VE it equals the uniform-t grid (geometric σ)."""
    sig_max, sig_min = _sigma_span(formulation)
    ramp = torch.linspace(0, 1, _check_steps(steps) + 1, dtype=torch.float64)
    sigmas = torch.exp(math.log(sig_max) + ramp * (math.log(sig_min) - math.log(sig_max)))
    return _times_of_sigmas(formulation, sigmas, dtype, device)


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


# --- samplers in the σ variables (docs/math.md §12) -------------------------------------------------------


class _Scaled:
    """A grid's coefficients in float64 (Python floats); ``ε = -s ŝ`` at ``x = m x̂`` (docs/math.md §12.1)."""

    def __init__(self, score_fn: ScoreFn, formulation: Formulation, ts: torch.Tensor):
        t64 = ts.to(torch.float64)
        self.score_fn, self.ts = score_fn, ts
        self.m = formulation.m(t64).tolist()
        self.s = formulation.s(t64).tolist()
        self.sigma = formulation.sigma(t64).tolist()

    def eps(self, x_hat: torch.Tensor, k: int) -> torch.Tensor:
        """``ε(x̂; σ_k) = (x̂ - D)/σ_k = -s_k ŝ(m_k x̂, t_k)``; ``s (ŝ)`` first, so no tiny ``s²`` is formed."""
        t = self.ts[k].expand(x_hat.shape[:-1])
        return -self.s[k] * self.score_fn(self.m[k] * x_hat, t)

    def denoised(self, x_hat: torch.Tensor, k: int) -> torch.Tensor:
        """``D(x̂; σ_k) = x̂ - σ_k ε`` = Tweedie's ``E[x_0 | x_t]`` (docs/math.md §12.1)."""
        return x_hat - self.sigma[k] * self.eps(x_hat, k)


def sample_heun(
    score_fn: ScoreFn,
    formulation: Formulation,
    x_T: torch.Tensor,
    *,
    steps: int,
    schedule: str = "karras",
    rho: float = 7.0,
    denoise: bool = False,
) -> torch.Tensor:
    """EDM's deterministic Heun sampler (Karras et al. 2022, Alg. 1), unified kernel (docs/math.md §12.5).

    Integrates ``dx̂/dσ = ε(x̂; σ)`` in ``x̂ = x/m`` on the ``schedule`` grid: Heun steps, the last one Euler,
    so ``2 steps - 1`` calls of ``score_fn`` (+1 with ``denoise``). Returns ``x = m(t_eps) x̂`` at ``t_eps``.
    """
    steps = _check_steps(steps)
    _check_state(x_T)
    ts = time_grid(formulation, steps, schedule, rho=rho, dtype=x_T.dtype, device=x_T.device)
    c = _Scaled(score_fn, formulation, ts)
    x_hat = x_T / c.m[0]
    for k in range(steps):
        d = c.eps(x_hat, k)
        dsig = c.sigma[k + 1] - c.sigma[k]
        x_next = x_hat + dsig * d
        if k < steps - 1:
            x_next = x_hat + (0.5 * dsig) * (d + c.eps(x_next, k + 1))
        x_hat = x_next
    x = c.m[-1] * x_hat
    return _tweedie(score_fn, formulation, x) if denoise else x


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
    denoise: bool = False,
) -> torch.Tensor:
    """DPM-Solver++(2M), data prediction, multistep in ``ℓ = -ln σ`` (docs/math.md §12.6);
    ``solver_type="midpoint"`` is k-diffusion's ``sample_dpmpp_2m``. A step more than ``max_step_ratio``
    times longer in ``ℓ`` than the previous one is taken at first order (§12.6). ``steps`` calls of
    ``score_fn`` (+1 with ``denoise``)."""
    return _dpmpp(
        score_fn, formulation, x_T, steps, schedule, rho, 2, 0.0, solver_type, max_step_ratio, None, denoise
    )


def sample_dpmpp_3m(
    score_fn: ScoreFn,
    formulation: Formulation,
    x_T: torch.Tensor,
    *,
    steps: int,
    schedule: str = "logsnr",
    rho: float = 7.0,
    max_step_ratio: float = 2.0,
    denoise: bool = False,
) -> torch.Tensor:
    """DPM-Solver++(3M), data prediction, multistep in ``ℓ = -ln σ`` (docs/math.md §12.6): orders 1, 2, then
    3; a step more than ``max_step_ratio`` times longer in ``ℓ`` than the previous one at first order.
    ``steps`` calls of ``score_fn`` (+1 with ``denoise``). The quadratic term carries the exact weight
    ``I_2 = 1 - 2 I_1/ĥ``, twice the reference implementations' ``φ_3``, which leaves them second order
    (§12.6)."""
    return _dpmpp(
        score_fn, formulation, x_T, steps, schedule, rho, 3, 0.0, "heun", max_step_ratio, None, denoise
    )


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
    denoise: bool = False,
) -> torch.Tensor:
    """SDE-DPM-Solver++(2M) for the λ-family reverse SDE (docs/math.md §12.7): ``lam`` is the family's λ
    (k-diffusion's ``eta``); λ = 1 the reverse-time SDE, λ = 0 gives :func:`sample_dpmpp_2m`. The linear part
    and the noise are integrated exactly, ``D`` is extrapolated linearly in ``ℓ``. ``steps`` calls of
    ``score_fn`` (+1 with ``denoise``)."""
    lam = _check_lam(lam)
    return _dpmpp(
        score_fn,
        formulation,
        x_T,
        steps,
        schedule,
        rho,
        2,
        lam,
        solver_type,
        max_step_ratio,
        generator,
        denoise,
    )


def _dpmpp(
    score_fn,
    formulation,
    x_T,
    steps,
    schedule,
    rho,
    order,
    lam,
    solver_type,
    max_step_ratio,
    generator,
    denoise,
):
    """Exponential integrator of ``dx̂ = (1+λ)(x̂ - D) dσ/σ + √(2λσ) dW̄`` in ``ℓ = -ln σ`` (math §12.6–12.7).

    Step ``k`` (``h = ℓ_{k+1} - ℓ_k``, ``ĥ = (1+λ) h``): ``x̂ ← e^{-ĥ} x̂ + I_0 D_k + I_1 d_1 + I_2 d_2
    + σ_{k+1} √(1 - e^{-2λh}) z``, with ``d_1 ≈ h D'``, ``d_2 ≈ h² D''/2`` from the previous ``D`` (as many as
    exist, up to ``order - 1``; none when ``h`` exceeds ``max_step_ratio`` times the previous step) and
    ``I_j = ∫_0^1 ĥ u^j e^{-ĥ(1-u)} du``.
    """
    steps = _check_steps(steps)
    if solver_type not in SOLVER_TYPES:
        raise ValueError(f"unknown solver_type {solver_type!r}; choose one of {list(SOLVER_TYPES)}")
    max_step_ratio = float(max_step_ratio)
    if not max_step_ratio >= 1:
        raise ValueError(
            f"max_step_ratio must be a number >= 1 (inf: never lower the order), got {max_step_ratio!r}"
        )
    _check_state(x_T)
    ts = time_grid(formulation, steps, schedule, rho=rho, dtype=x_T.dtype, device=x_T.device)
    c = _Scaled(score_fn, formulation, ts)
    ell = [-math.log(sig) for sig in c.sigma]
    x_hat = x_T / c.m[0]
    history: list[tuple[torch.Tensor, float]] = []  # (D_j, h_j) of the previous steps, newest first
    for k in range(steps):
        D = c.denoised(x_hat, k)
        h = ell[k + 1] - ell[k]
        i0, i1, i2 = _phi_integrals((1 + lam) * h)
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
            x_hat = x_hat + c.sigma[k + 1] * math.sqrt(-math.expm1(-2 * lam * h)) * noise
        history = [(D, h), *history[: order - 2]]
    x = c.m[-1] * x_hat
    return _tweedie(score_fn, formulation, x) if denoise else x


def _phi_integrals(hh: float) -> tuple[float, float, float]:
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


SAMPLER_NAMES = {  # the names run names, figure titles and reports give the samplers (docs/usage.md §3)
    sample_ode: "ODE",
    sample_sde: "SDE",
    sample_heun: "Heun",
    sample_dpmpp_2m: "DPM-Solver++(2M)",
    sample_dpmpp_3m: "DPM-Solver++(3M)",
    sample_dpmpp_2m_sde: "SDE-DPM-Solver++(2M)",
}
HEADLINE = ("method", "steps", "schedule")  # shown first, without their keys
NOT_SETTINGS = ("generator", "progress")  # how a call runs, not what it computes
SYMBOLS = {"lam": "λ", "rho": "ρ"}


def sampler_label(sampler: functools.partial) -> str:
    """A sampler with its settings, as run names, figure titles and reports show it (docs/usage.md §3):
    ``ODE rk45``, ``SDE 500 steps``, ``DPM-Solver++(3M) 20 steps logsnr``, ``SDE 1000 steps λ=0.5``.

    ``sampler`` is a sampler function with its keywords bound (what a ``sampler`` config node instantiates
    to). Shown: the method (ODE), the step count, the step schedule (left out where it is uniform in t, the
    sampler's default), then every other keyword whose value differs from the function's default.
    """
    func = sampler.func
    defaults = {
        key: p.default for key, p in inspect.signature(func).parameters.items() if p.default is not p.empty
    }
    settings = defaults | sampler.keywords
    parts = [SAMPLER_NAMES.get(func, func.__name__)]
    if "method" in settings:
        parts.append(str(settings["method"]))
    if settings.get("steps") is not None:
        parts.append(f"{settings['steps']} steps")
    if settings.get("schedule", "uniform") != "uniform" or defaults.get("schedule", "uniform") != "uniform":
        parts.append(str(settings["schedule"]))
    for key, value in settings.items():
        if key not in HEADLINE + NOT_SETTINGS and (key not in defaults or value != defaults[key]):
            parts.append(_setting(key, value))
    return " ".join(parts)


def _setting(key: str, value) -> str:
    symbol = SYMBOLS.get(key, key)
    if value is True:
        return symbol
    return f"{symbol}={value:g}" if isinstance(value, float) else f"{symbol}={value}"
