"""Forward processes as objects exposing ``m, s, f, g2`` (docs/math.md §1–3).

Every formulation is the linear SDE ``dX = f(t) X dt + g(t) dW`` (docs/math.md §1.1) whose transition kernel
is ``N(m(t) x0, s(t)² I)`` (docs/math.md §1.3). A formulation object exposes exactly those four functions of
time, the time interval ``[t_eps, T]`` and its terminal (prior) distribution; losses and samplers derive
everything else from them, in the style of score_sde_pytorch's ``sde_lib``.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

import torch

T_EPS = 1e-3  # docs/math.md §0 (choice): training and sampling use t in [t_eps, T]


def _positive(name: str, value: float) -> float:
    value = float(value)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return value


class Formulation(ABC):
    """A forward process of the unified form of docs/math.md §1."""

    def __init__(self, T: float = 1.0, t_eps: float = T_EPS):
        self.T = _positive("T", T)
        self.t_eps = _positive("t_eps", t_eps)
        if self.t_eps >= self.T:
            raise ValueError(f"t_eps must be < T, got t_eps={t_eps!r}, T={T!r}")

    @abstractmethod
    def m(self, t: torch.Tensor) -> torch.Tensor:
        """Mean factor of the kernel, ``m(t) = exp(∫_0^t f)`` (docs/math.md §1.3)."""

    @abstractmethod
    def s(self, t: torch.Tensor) -> torch.Tensor:
        """Standard deviation of the kernel (docs/math.md §1.3)."""

    @abstractmethod
    def f(self, t: torch.Tensor) -> torch.Tensor:
        """Drift coefficient of the forward SDE (docs/math.md §1.1)."""

    @abstractmethod
    def g2(self, t: torch.Tensor) -> torch.Tensor:
        """Squared diffusion coefficient of the forward SDE (docs/math.md §1.1)."""

    @property
    @abstractmethod
    def prior_std(self) -> float:
        """Standard deviation of the terminal distribution ``N(0, prior_std² I)``."""

    def prior_sample(self, shape, generator=None, device=None, dtype=None) -> torch.Tensor:
        """Draw ``X_T`` from the terminal distribution (docs/math.md §5, "Start")."""
        return self.prior_std * torch.randn(shape, generator=generator, device=device, dtype=dtype)

    def perturb(self, x0: torch.Tensor, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """``x_t = m(t) x0 + s(t) z`` for ``t`` of shape ``x0.shape[:-1]`` (docs/math.md §1.3, §6)."""
        t = t.unsqueeze(-1)
        return self.m(t) * x0 + self.s(t) * z

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({params})"


class VE(Formulation):
    """Variance exploding, geometric schedule (docs/math.md §2).

    ``f = 0``, ``m = 1``, ``s = σ(t) = σ_min (σ_max/σ_min)^{t/T}``, ``g² = 2 σ² ln(σ_max/σ_min) / T``.
    """

    def __init__(self, sigma_min: float, sigma_max: float, T: float = 1.0, t_eps: float = T_EPS):
        super().__init__(T, t_eps)
        self.sigma_min = _positive("sigma_min", sigma_min)
        self.sigma_max = _positive("sigma_max", sigma_max)
        if self.sigma_min >= self.sigma_max:
            raise ValueError(
                f"sigma_min must be < sigma_max, got sigma_min={sigma_min!r}, sigma_max={sigma_max!r}"
            )
        self._log_ratio = math.log(self.sigma_max / self.sigma_min)

    def m(self, t):
        return torch.ones_like(t)

    def s(self, t):
        return self.sigma_min * torch.exp(self._log_ratio * t / self.T)

    def f(self, t):
        return torch.zeros_like(t)

    def g2(self, t):
        return 2.0 * self._log_ratio / self.T * self.s(t) ** 2

    @property
    def prior_std(self) -> float:
        return self.sigma_max


class VPFamily(Formulation):
    """Variance preserving κ-family with a linear β schedule (docs/math.md §3, eq. 3.1).

    ``B = ∫β``, ``m = e^{-B/2}``, ``s = (1 - e^{-κB})^{1/(2κ)}``, ``f = -β/2``, ``g² = β s^{2(1-κ)}``;
    ``m^{2κ} + s^{2κ} = 1``. κ = 1 is the VP SDE of Song et al. (2021).
    """

    def __init__(
        self, beta_min: float, beta_max: float, kappa: float = 1.0, T: float = 1.0, t_eps: float = T_EPS
    ):
        super().__init__(T, t_eps)
        beta_min, beta_max = float(beta_min), float(beta_max)
        if not (math.isfinite(beta_min) and beta_min >= 0):
            raise ValueError(f"beta_min must be a finite number >= 0, got {beta_min!r}")
        self.beta_min = beta_min
        self.beta_max = _positive("beta_max", beta_max)
        if beta_min > beta_max:
            raise ValueError(
                f"beta_min must be <= beta_max, got beta_min={beta_min!r}, beta_max={beta_max!r}"
            )
        self.kappa = _positive("kappa", kappa)

    def beta(self, t):
        return self.beta_min + (t / self.T) * (self.beta_max - self.beta_min)

    def B(self, t):
        """``B(t) = ∫_0^t β = β_min t + (β_max - β_min) t² / (2T)``."""
        return self.beta_min * t + (self.beta_max - self.beta_min) * t**2 / (2 * self.T)

    def m(self, t):
        return torch.exp(-0.5 * self.B(t))

    def s(self, t):
        # -expm1 keeps 1 - e^{-κB} accurate for small B (t near 0).
        return (-torch.expm1(-self.kappa * self.B(t))) ** (0.5 / self.kappa)

    def f(self, t):
        return -0.5 * self.beta(t)

    def g2(self, t):
        return self.beta(t) * self.s(t) ** (2 * (1 - self.kappa))

    @property
    def prior_std(self) -> float:
        return float(self.s(torch.tensor(self.T, dtype=torch.float64)))


class VP(VPFamily):
    """The VP SDE of Song et al. (2021): the κ-family at κ = 1 (docs/math.md §3)."""

    def __init__(self, beta_min: float, beta_max: float, T: float = 1.0, t_eps: float = T_EPS):
        super().__init__(beta_min, beta_max, kappa=1.0, T=T, t_eps=t_eps)
