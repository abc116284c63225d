"""The three 2-D joint densities of docs/problems.md §1 (paper §6.1): joint samplers, their densities, the
exact conditional reference sampler.

Each problem gives ``sample_joint(n, rng) -> (x, y)`` and an unnormalised joint density
``joint_density(x, y)``. The exact conditional ``p(x | y*)`` is that density on a fine grid of x,
normalised, and sampled by inverse CDF with a piecewise-constant density per cell (exact inside a cell):

- tanh: ``x ~ U(-3, 3)``, ``y = tanh x + γ``, ``γ ~ Gamma(1, 0.3)``: ``p(x|y) ∝ p_γ(y - tanh x)``, |x| ≤ 3;
- bimodal: ``x ~ N(0, 1)``, ``y = x² + 0.2 ε``: ``p(x|y) ∝ N(x; 0, 1) N(y; x², 0.2²)``;
- spiral:  ``θ = 3π √u``, ``(x, y) = (θ/3π)(cos θ, sin θ) + 0.05 ε``: θ is marginalised by a 1-D
  quadrature, ``p(x, y) = ∫ p(θ) N(x; r cos θ, 0.05²) N(y; r sin θ, 0.05²) dθ`` with ``p(θ) = 2θ/(3π)²``.

Their paired datasets are written by :mod:`data_gen.toy`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import numpy as np
from scipy import stats

SPIRAL_TURNS = 3 * math.pi
SPIRAL_NOISE = 0.05


@dataclass(frozen=True)
class ToyProblem:
    name: str
    x_range: tuple[float, float]  # where p(x | y) lives, for the fine grid
    y_stars: tuple[float, ...]

    def sample_joint(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        if self.name == "tanh":
            x = rng.uniform(-3.0, 3.0, n)
            y = np.tanh(x) + rng.gamma(1.0, 0.3, n)
        elif self.name == "bimodal":
            x = rng.standard_normal(n)
            y = x**2 + 0.2 * rng.standard_normal(n)
        else:
            theta = SPIRAL_TURNS * np.sqrt(rng.uniform(0.0, 1.0, n))
            r = theta / SPIRAL_TURNS
            x = r * np.cos(theta) + SPIRAL_NOISE * rng.standard_normal(n)
            y = r * np.sin(theta) + SPIRAL_NOISE * rng.standard_normal(n)
        return x, y

    def joint_density(self, x: np.ndarray, y: float) -> np.ndarray:
        """``p(x, y)`` at points ``x`` for one ``y`` (normalised for every problem)."""
        x = np.asarray(x, dtype=np.float64)
        if self.name == "tanh":
            inside = np.abs(x) <= 3.0
            return inside / 6.0 * stats.gamma.pdf(y - np.tanh(x), a=1.0, scale=0.3)
        if self.name == "bimodal":
            return stats.norm.pdf(x) * stats.norm.pdf(y, loc=x**2, scale=0.2)
        theta = np.linspace(0.0, SPIRAL_TURNS, 4_001)  # r dθ ≤ 2.4e-3, far below the noise 0.05
        r = theta / SPIRAL_TURNS
        weight = 2 * theta / SPIRAL_TURNS**2 * stats.norm.pdf(y, loc=r * np.sin(theta), scale=SPIRAL_NOISE)
        keep = weight > weight.max() * 1e-12
        dtheta = theta[1] - theta[0]
        centre = (r * np.cos(theta))[keep]
        kernel = np.exp(-0.5 * ((x[:, None] - centre[None, :]) / SPIRAL_NOISE) ** 2)
        kernel /= SPIRAL_NOISE * math.sqrt(2 * math.pi)
        return kernel @ weight[keep] * dtheta


PROBLEMS = {
    "tanh": ToyProblem("tanh", (-3.0, 3.0), (-0.6, 0.0, 0.6, 1.2)),
    "bimodal": ToyProblem("bimodal", (-5.0, 5.0), (0.0, 0.5, 1.0, 2.0)),
    "spiral": ToyProblem("spiral", (-1.5, 1.5), (-0.5, -0.25, 0.25, 0.5)),
}


def problem(name: str) -> ToyProblem:
    if name not in PROBLEMS:
        raise ValueError(f"unknown toy problem {name!r}; choose one of {sorted(PROBLEMS)}")
    return PROBLEMS[name]


@cache
def conditional_grid(name: str, y_star: float, cells: int = 20_000) -> tuple[np.ndarray, np.ndarray]:
    """Cell edges (cells + 1) and cell probabilities of ``p(x | y*)`` (midpoint rule on each cell); computed
    once per argument (the spiral's takes seconds), read-only."""
    lo, hi = problem(name).x_range
    edges = np.linspace(lo, hi, cells + 1)
    density = problem(name).joint_density(0.5 * (edges[1:] + edges[:-1]), y_star)
    total = density.sum()
    if not total > 0:
        raise ValueError(f"p(x | y*={y_star}) vanishes on {problem(name).x_range} for problem {name!r}")
    prob = density / total
    edges.flags.writeable = prob.flags.writeable = False
    return edges, prob


def sample_conditional(
    name: str, y_star: float, n: int, rng: np.random.Generator, cells: int = 20_000
) -> np.ndarray:
    """``n`` exact draws of ``p(x | y*)`` by inverse CDF on a grid of ``cells`` cells
    (docs/problems.md §1)."""
    edges, prob = conditional_grid(name, y_star, cells)
    cdf = np.concatenate([[0.0], np.cumsum(prob)])
    cdf /= cdf[-1]
    return np.interp(rng.uniform(0.0, 1.0, n), cdf, edges)
