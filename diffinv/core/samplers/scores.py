"""What the samplers call: a score ``score_fn(x, t) -> ∇_x log p_t(x | y)`` with the conditioning closed over,
and its views (docs/math.md §5.4, §6, §12.1, §12.8).

- :func:`conditional_score`: the score of a trained ε-network for given measurements;
- :class:`CountingScore`: counts network calls (and optionally records the times);
- :class:`SigmaNodes`: the score on a time grid seen as EDM's denoiser in the σ variables ``x̂ = x/m``;
- :func:`step_to_zero`: the final step from ``t_eps`` to σ = 0 that ends every sampler.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from diffinv.core.formulations import Formulation

ScoreFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


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


class SigmaNodes:
    """The score on a time grid ``ts`` as EDM's denoiser in ``x̂ = x/m`` (docs/math.md §12.1): node ``k``
    has ``t_k`` and, in float64, ``m_k``, ``s_k`` and ``σ_k = s_k/m_k`` (``m``, ``s``, ``sigmas``)."""

    def __init__(self, score_fn: ScoreFn, formulation: Formulation, ts: torch.Tensor):
        t64 = ts.to(torch.float64)
        self.score_fn, self.ts = score_fn, ts
        self.m = formulation.m(t64).tolist()
        self.s = formulation.s(t64).tolist()
        self.sigmas = formulation.sigma(t64).tolist()

    def eps(self, x_hat: torch.Tensor, k: int) -> torch.Tensor:
        """``ε(x̂; σ_k) = (x̂ - D)/σ_k = -s_k ŝ(m_k x̂, t_k)``; ``s (ŝ)`` first, so no tiny ``s²`` is formed."""
        t = self.ts[k].expand(x_hat.shape[:-1])
        return -self.s[k] * self.score_fn(self.m[k] * x_hat, t)

    def denoised(self, x_hat: torch.Tensor, k: int) -> torch.Tensor:
        """``D(x̂; σ_k) = x̂ - σ_k ε`` = Tweedie's ``E[x_0 | x_t]`` (docs/math.md §12.1)."""
        return x_hat - self.sigmas[k] * self.eps(x_hat, k)


FINAL_STEPS = ("flow", "tweedie", "none")  # docs/math.md §5.4


def check_final_step(kind: str) -> None:
    """Refuse a ``final_step`` that is not one of :data:`FINAL_STEPS`, naming the choices."""
    if kind not in FINAL_STEPS:
        raise ValueError(f"unknown final_step {kind!r}; choose one of {list(FINAL_STEPS)}")


def step_to_zero(
    score_fn: ScoreFn, formulation: Formulation, x: torch.Tensor, kind: str = "flow"
) -> torch.Tensor:
    """From ``x`` at ``t_eps`` (noise-to-signal ratio ``σ_e = σ(t_eps)``) to σ = 0 (docs/math.md §5.4), one
    call:

    - ``"flow"``: the probability-flow ODE by one Euler step in σ², ``x_0 = (x̂ + D)/2`` with ``x̂ = x/m`` and
      ``D = (x + s² ŝ)/m``; its width error is ``O(σ_e⁴)``;
    - ``"tweedie"``: ``x_0 = D``, Tweedie's posterior mean, the Euler step in σ (width error ``O(σ_e²)``, too
      narrow);
    - ``"none"``: no step (no call), ``x`` at ``t_eps`` as the paper returns it (``O(σ_e²)``, too wide).

    ``s² ŝ`` is formed as ``s (s ŝ)``, so that a tiny float32 ``s`` never meets an underflowed ``s²``.
    """
    check_final_step(kind)
    if kind == "none":
        return x
    t = torch.full(x.shape[:-1], formulation.t_eps, dtype=x.dtype, device=x.device)
    m, s = formulation.m(t).unsqueeze(-1), formulation.s(t).unsqueeze(-1)
    denoised = (x + s * (s * score_fn(x, t))) / m
    return denoised if kind == "tweedie" else 0.5 * (x / m + denoised)


def end_width_error(kind: str, ratio):
    """The relative error of a posterior std that :func:`step_to_zero` leaves for a Gaussian posterior of
    std ``c^½`` along an eigendirection, as a function of ``ratio = σ(t_eps)/c^½`` (docs/math.md §5.4):
    ``"none"`` ``√(1 + r²) - 1``, ``"tweedie"`` ``1/√(1 + r²) - 1``, ``"flow"`` ``√(1 + r⁴/(4(1 + r²))) - 1``.
    Works on floats and arrays."""
    check_final_step(kind)
    r2 = ratio**2
    variance = {"none": 1 + r2, "tweedie": 1 / (1 + r2), "flow": 1 + r2**2 / (4 * (1 + r2))}[kind]
    return variance**0.5 - 1
