"""Sample distances for the 2-D conditional density problems (docs/problems.md §1).

The paper's metric is POT's ``ot.sinkhorn2(a, b, M, reg=0.01)`` with uniform weights and the squared
Euclidean cost: the transport cost ``<P, M>`` of the entropic plan ``P``. Plain log-domain Sinkhorn needs
thousands of iterations at ``reg = 0.01`` on 10,000 × 2,000 points (each a full pass of exponentials
over the cost matrix). :func:`sinkhorn_cost` computes the same quantity fast and to a stated marginal
tolerance by three standard devices:

1. ε-scaling (Schmitzer 2019, "Stabilized sparse scaling algorithms"): solve a sequence of problems with
   ``reg`` decreasing geometrically, each warm-started from the previous potentials and iterated (at least
   ``level_iterations`` times) to a loose marginal violation ``level_tolerance``, so the next level's kernel
   cannot underflow even when the two point sets are far apart;
2. absorption: at each level the potentials are folded into the kernel ``K = exp((f + g - M)/reg)``
   once, so the iterations themselves are matrix–vector products, not exponentials;
3. over-relaxation (Thibault et al. 2021, "Overrelaxed Sinkhorn–Knopp"): ``u ← u^{1-ω} (a / K v)^ω``
   with ``1 ≤ ω < 2`` (default 1.8) at the last level, ``reg`` itself, where most iterations are spent;
   if it overshoots (non-finite scalings), the iterations restart from the last finite ones with ω halved
   towards 1.

Measured effect of over-relaxation (``reg = 0.01``, ``tol = 1e-6``, ``max_iterations`` raised to 400,000).
Iterations are over all levels and reproducible; seconds are on 2 CPU cores shared with other jobs and
varied up to 3-fold between two runs (both given where repeated). The 1-D cases are what the evaluator
scores: an exact conditional sample of x at y* against the band reference (``|y - y*| < 0.05`` in
100,000 joint draws, seed 0); the 2-D ones are standard normal points against points shifted by 0.3
(seed 0 for 300 × 200, seed 1 for 2,000 × 2,000)::

    points                                iterations, ω = 1.8 / 1   seconds, ω = 1.8 / 1      values differ
    1-D tanh, y* = 0.6, 300 × 2,099              280 / 1,510         0.57, 0.58 / 1.0, 0.99    2.8e-5 rel.
    1-D tanh, y* = 0.6, 2,000 × 2,099            480 / 2,800         4.9, 2.4 / 27, 12         5.5e-7
    1-D tanh, y* = 0.6, 10,000 × 2,099           490 / 2,840         16 / 118                  2.5e-5
    1-D bimodal, y* = 1, 2,000 × 2,462           710 / 3,750         13, 4.4 / 27, 32          3.0e-5
    1-D spiral, y* = 0.25, 2,000 × 6,422         240 / 920           5.3, 4.4 / 16, 11         3.0e-6
    2-D Gaussians, 300 × 200                  33,370 / 31,710        4.3, 2.5 / 3.8, 2.0       8.7e-7
    2-D Gaussians, 2,000 × 2,000               9,330 / 19,560        89 / 144                  2.0e-6

On the 1-D samples the evaluator scores, over-relaxation needs 3.8–5.8 times fewer iterations and 1.7–7.3
times less time; on 2-D point sets it gained 2.1-fold in iterations (1.6-fold in time) at 2,000 × 2,000
and nothing at 300 × 200 (5 % more iterations, 13–27 % more time). That 300 × 200 case needs more than
the default ``max_iterations`` either way. Both runs stop at the same marginal tolerance; their values
differed by at most 3e-5 relative.

The fixed point is the one plain Sinkhorn converges to, so the value equals POT's at convergence
(tested against ``ot.sinkhorn2(..., method="sinkhorn_log")``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class SinkhornResult:
    cost: float  # <P, M>, what ot.sinkhorn2 returns
    marginal_violation: float  # ||P 1 - a||_1 + ||P^T 1 - b||_1 at exit
    iterations: int


def sinkhorn_cost(
    xs,
    xr,
    reg: float = 0.01,
    tol: float = 1e-6,
    omega: float = 1.8,
    scaling_factor: float = 4.0,
    level_iterations: int = 10,
    level_tolerance: float = 1e-2,
    max_iterations: int = 20_000,
    check_every: int = 10,
) -> SinkhornResult:
    """Entropic OT cost between uniform empirical measures on ``xs`` (n, d) and ``xr`` (m, d).

    Same quantity as ``ot.sinkhorn2(unif(n), unif(m), ot.dist(xs, xr), reg)``. Stops when the L1
    marginal violation is below ``tol``; raises if that does not happen in ``max_iterations``.
    """
    if not (1.0 <= omega < 2.0):
        raise ValueError(f"omega must be in [1, 2), got {omega!r}")
    xs = _points(xs)
    xr = _points(xr)
    cost = torch.cdist(xs, xr) ** 2
    n, m = cost.shape
    a = torch.full((n,), 1.0 / n, dtype=torch.float64)
    b = torch.full((m,), 1.0 / m, dtype=torch.float64)
    f = torch.zeros(n, dtype=torch.float64)
    g = torch.zeros(m, dtype=torch.float64)
    eps = max(float(cost.max()), reg)
    iterations = 0
    while True:
        eps = max(reg, eps / scaling_factor)
        final = eps == reg
        kernel = torch.exp((f[:, None] + g[None, :] - cost) / eps)
        u = torch.ones(n, dtype=torch.float64)
        v = torch.ones(m, dtype=torch.float64)
        relax = omega if final else 1.0
        violation = float("inf")
        last_good = (u, v)
        for k in range(1, max_iterations - iterations + 1):
            v = v ** (1 - relax) * (b / (kernel.T @ u)) ** relax
            u = u ** (1 - relax) * (a / (kernel @ v)) ** relax
            iterations += 1
            if k % check_every == 0 or (not final and k == level_iterations):
                violation = float((u * (kernel @ v) - a).abs().sum() + (v * (kernel.T @ u) - b).abs().sum())
                if not math.isfinite(violation):  # over-relaxation overshot far from the fixed point
                    if relax == 1.0:
                        raise RuntimeError(f"Sinkhorn: scalings overflowed at reg {eps:.3g}")
                    (u, v), relax = last_good, 1.0 + (relax - 1.0) / 2
                    continue
                last_good = (u, v)
                level_done = not final and k >= level_iterations and violation < level_tolerance
                if level_done or violation < tol:
                    break
        if final:
            break
        f, g = f + eps * torch.log(u), g + eps * torch.log(v)
    if not violation < tol:
        raise RuntimeError(
            f"Sinkhorn did not reach marginal violation {tol:g} in {max_iterations} iterations "
            f"(last {violation:.3g})"
        )
    value = float(u @ ((kernel * cost) @ v))
    return SinkhornResult(cost=value, marginal_violation=violation, iterations=iterations)


def wasserstein2_1d(xs, xr) -> float:
    """Exact squared 2-Wasserstein distance between two 1-D empirical measures (quantile coupling)."""
    xs = np.sort(np.asarray(xs, dtype=np.float64).reshape(-1))
    xr = np.sort(np.asarray(xr, dtype=np.float64).reshape(-1))
    levels = np.union1d(np.arange(1, len(xs) + 1) / len(xs), np.arange(1, len(xr) + 1) / len(xr))
    widths = np.diff(np.concatenate([[0.0], levels]))
    mid = levels - widths / 2
    qs = xs[np.minimum((mid * len(xs)).astype(int), len(xs) - 1)]
    qr = xr[np.minimum((mid * len(xr)).astype(int), len(xr) - 1)]
    return float(np.sum(widths * (qs - qr) ** 2))


def _points(x) -> torch.Tensor:
    x = torch.as_tensor(np.asarray(x), dtype=torch.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"points must be (n,) or (n, d) with n >= 1, got shape {tuple(x.shape)}")
    return x
