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
# The config's schedules (conf/schedule/*.yaml; paper, Appendix B): labels name only values that differ.
DEFAULT_SIGMA_MIN = 1e-3
DEFAULT_BETA = (1e-3, 15.0)


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

    def sigma(self, t: torch.Tensor) -> torch.Tensor:
        """Noise-to-signal ratio ``σ(t) = s(t)/m(t)`` (docs/math.md §12.1): ``x/m = x0 + σ z``."""
        return self.s(t) / self.m(t)

    def t_of_sigma(self, sigma: torch.Tensor) -> torch.Tensor:
        """The inverse of :meth:`sigma` (docs/math.md §12.2).

        Generic fallback: bisection on ``[0, T]`` in float64 (σ is increasing), so values outside
        ``[σ(0), σ(T)]`` come back clamped to ``0`` or ``T``. Subclasses override it with a closed form.
        """
        target = torch.as_tensor(sigma)
        goal = target.to(torch.float64)
        lo = torch.zeros_like(goal)
        hi = torch.full_like(goal, self.T)
        for _ in range(80):
            mid = 0.5 * (lo + hi)
            below = self.sigma(mid) < goal
            lo, hi = torch.where(below, mid, lo), torch.where(below, hi, mid)
        return (0.5 * (lo + hi)).to(target.dtype if target.is_floating_point() else torch.float64)

    def prior_sample(self, shape, generator=None, device=None, dtype=None) -> torch.Tensor:
        """Draw ``X_T`` from the terminal distribution (docs/math.md §5, "Start")."""
        return self.prior_std * torch.randn(shape, generator=generator, device=device, dtype=dtype)

    def perturb(self, x0: torch.Tensor, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """``x_t = m(t) x0 + s(t) z`` for ``t`` of shape ``x0.shape[:-1]`` (docs/math.md §1.3, §6)."""
        t = t.unsqueeze(-1)
        return self.m(t) * x0 + self.s(t) * z

    @property
    def label(self) -> str:
        """The formulation with its parameters, as run names, figure titles and reports show it
        (docs/usage.md §3): ``VE σ_max=12``, ``VP``, ``VP-κ=2``, ``VP β=[0.1, 20]``; values at the config's
        defaults are left out, ``T`` and ``t_eps`` shown only where they differ from 1 and :data:`T_EPS`."""
        times = [
            f"{key}={value:g}"
            for key, default in (("T", 1.0), ("t_eps", T_EPS))
            if (value := getattr(self, key)) != default
        ]
        return " ".join([self._name(), *self._settings(), *times])

    def _name(self) -> str:
        return type(self).__name__

    def _settings(self) -> list[str]:
        """The parameters the label shows after the name."""
        return []

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

    def sigma(self, t):
        return self.s(t)  # m = 1

    def t_of_sigma(self, sigma):
        """``t = T ln(σ/σ_min) / ln(σ_max/σ_min)`` (docs/math.md §12.2); any σ > 0, not clamped."""
        return self.T * torch.log(sigma / self.sigma_min) / self._log_ratio

    @property
    def prior_std(self) -> float:
        return self.sigma_max

    def _settings(self):
        shown = [f"σ_max={self.sigma_max:g}"]
        return shown if self.sigma_min == DEFAULT_SIGMA_MIN else [f"σ_min={self.sigma_min:g}", *shown]


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
        _check_kappa(self)

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

    def log_sigma(self, t):
        """``ln σ = [κB + ln(1 - e^{-κB})] / (2κ)``, from ``σ^{2κ} = e^{κB} - 1`` (docs/math.md §12.2); no
        overflow for large κB."""
        kb = self.kappa * self.B(t)
        return (kb + torch.log(-torch.expm1(-kb))) / (2 * self.kappa)

    def sigma(self, t):
        return torch.exp(self.log_sigma(t))

    def t_of_sigma(self, sigma):
        """Closed-form inverse of σ (docs/math.md §12.2): ``B = ln(1 + σ^{2κ})/κ``, then the positive root of
        ``β_min t + (β_max - β_min) t²/(2T) = B``, written
        ``t = 2B / (β_min + √(β_min² + 2 (β_max - β_min) B / T))`` (no cancellation; valid for
        β_max = β_min). Any σ > 0, not clamped."""
        B = torch.logaddexp(torch.zeros_like(sigma), 2 * self.kappa * torch.log(sigma)) / self.kappa
        slope = (self.beta_max - self.beta_min) / self.T
        return 2 * B / (self.beta_min + torch.sqrt(self.beta_min**2 + 2 * slope * B))

    @property
    def prior_std(self) -> float:
        return float(self.s(torch.tensor(self.T, dtype=torch.float64)))

    def _name(self):
        return f"VP-κ={self.kappa:g}"

    def _settings(self):
        if (self.beta_min, self.beta_max) == DEFAULT_BETA:
            return []
        return [f"β=[{self.beta_min:g}, {self.beta_max:g}]"]


S_EPS_MIN = 1e-30  # smallest s(t_eps) accepted: float32 keeps -ε/s (<= 1e30 |ε|) finite (docs/math.md §12.9)


def _log_s_eps(kappa: float, b_eps: float) -> float:
    """``ln s(t_eps) = ln(1 - e^{-κ B(t_eps)}) / (2κ)`` in float64, without underflow."""
    return math.log(-math.expm1(-kappa * b_eps)) / (2 * kappa)


def smallest_safe_kappa(beta_min: float, beta_max: float, T: float = 1.0, t_eps: float = T_EPS) -> float:
    """The smallest κ of the family with ``s(t_eps) >= S_EPS_MIN`` for this β schedule (docs/math.md §12.9),
    rounded up to 3 significant digits. ``s(t_eps)`` increases with κ (for ``κ B(t_eps) < e``)."""
    b_eps = beta_min * t_eps + (beta_max - beta_min) * t_eps**2 / (2 * T)
    floor = math.log(S_EPS_MIN)
    lo, hi = 1e-6, 1.0
    while _log_s_eps(hi, b_eps) < floor:
        lo, hi = hi, 2 * hi
    for _ in range(200):
        mid = math.sqrt(lo * hi)
        if _log_s_eps(mid, b_eps) < floor:
            lo = mid
        else:
            hi = mid
    digits = 2 - math.floor(math.log10(hi))
    return math.ceil(hi * 10**digits) / 10**digits


def _check_kappa(form: VPFamily) -> None:
    """Reject a κ whose ``s(t_eps)`` is below :data:`S_EPS_MIN` (float32 samplers would turn it into NaN)."""
    b_eps = float(form.B(torch.tensor(form.t_eps, dtype=torch.float64)))
    if _log_s_eps(form.kappa, b_eps) < math.log(S_EPS_MIN):
        safe = smallest_safe_kappa(form.beta_min, form.beta_max, form.T, form.t_eps)
        s_eps = math.exp(_log_s_eps(form.kappa, b_eps))
        raise ValueError(
            f"kappa={form.kappa!r} is too small for beta_min={form.beta_min!r}, beta_max={form.beta_max!r}, "
            f"t_eps={form.t_eps!r}: the noise s(t_eps) = {s_eps:.3g} is below {S_EPS_MIN:g}, where float32 "
            f"sampling overflows the score -eps/s into NaN; the smallest safe kappa here is {safe:g}"
        )


class VP(VPFamily):
    """The VP SDE of Song et al. (2021): the κ-family at κ = 1 (docs/math.md §3)."""

    def __init__(self, beta_min: float, beta_max: float, T: float = 1.0, t_eps: float = T_EPS):
        super().__init__(beta_min, beta_max, kappa=1.0, T=T, t_eps=t_eps)

    def _name(self):
        return "VP"
