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

SIGMA_EPS = 1e-3  # docs/math.md §5.4 (choice): sampling ends at σ(t_eps) = σ_eps, t_eps = t_of_sigma(σ_eps)
T_EPS_MIN = 1e-30  # smallest t_eps accepted: a float32 normal number with room (docs/math.md §12.9)
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

    def __init__(self, T: float = 1.0, sigma_eps: float = SIGMA_EPS, t_eps: float | None = None):
        """Subclasses set their own parameters first, then call this: the interval ``[t_eps, T]`` needs σ.

        The sampling (and training) interval ends where the noise-to-signal ratio is ``sigma_eps``, the same
        for every formulation (docs/math.md §5.4): ``t_eps = t_of_sigma(sigma_eps)``, or ``0`` where σ(0)
        is already above it (VE with σ_min > σ_eps). An explicit ``t_eps`` (the paper's time-based choice)
        replaces it.
        """
        self.T = _positive("T", T)
        self.sigma_eps = _positive("sigma_eps", sigma_eps)
        self._explicit_t_eps = t_eps is not None
        if t_eps is None:
            t_eps = max(float(self.t_of_sigma(torch.tensor(self.sigma_eps, dtype=torch.float64))), 0.0)
            if not t_eps < self.T:
                sigma_T = float(self.sigma(torch.tensor(self.T, dtype=torch.float64)))
                raise ValueError(
                    f"sigma_eps={sigma_eps!r} is never reached: the noise-to-signal ratio at T "
                    f"is only sigma(T) = {sigma_T:.3g} (docs/math.md §12.9)"
                )
        t_eps = float(t_eps)
        if not (math.isfinite(t_eps) and 0 <= t_eps < self.T):
            raise ValueError(f"t_eps must be a number in [0, T), got t_eps={t_eps!r}, T={T!r}")
        if not self.s(torch.tensor(t_eps, dtype=torch.float64)) > 0:
            raise ValueError(f"t_eps must be > 0 here (the noise s(0) is 0), got t_eps={t_eps!r}")
        self.t_eps = t_eps

    @property
    def sigma_end(self) -> float:
        """``σ(t_eps)``: the noise left where the reverse process stops (docs/math.md §5.4)."""
        return float(self.sigma(torch.tensor(self.t_eps, dtype=torch.float64)))

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
        defaults are left out, ``T`` and ``σ_eps`` shown only where they differ from 1 and
        :data:`SIGMA_EPS`, an explicit ``t_eps`` always."""
        times = [f"T={self.T:g}"] if self.T != 1.0 else []
        if self._explicit_t_eps:
            times.append(f"t_eps={self.t_eps:g}")
        elif self.sigma_eps != SIGMA_EPS:
            times.append(f"σ_eps={self.sigma_eps:g}")
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

    def __init__(
        self,
        sigma_min: float,
        sigma_max: float,
        T: float = 1.0,
        sigma_eps: float = SIGMA_EPS,
        t_eps: float | None = None,
    ):
        self.sigma_min = _positive("sigma_min", sigma_min)
        self.sigma_max = _positive("sigma_max", sigma_max)
        if self.sigma_min >= self.sigma_max:
            raise ValueError(
                f"sigma_min must be < sigma_max, got sigma_min={sigma_min!r}, sigma_max={sigma_max!r}"
            )
        self._log_ratio = math.log(self.sigma_max / self.sigma_min)
        super().__init__(T, sigma_eps, t_eps)

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
        self,
        beta_min: float,
        beta_max: float,
        kappa: float = 1.0,
        T: float = 1.0,
        sigma_eps: float = SIGMA_EPS,
        t_eps: float | None = None,
    ):
        self.T = _positive("T", T)  # B(t) needs it before the interval is set
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
        try:
            super().__init__(T, sigma_eps, t_eps)
        except ValueError as error:
            raise ValueError(f"kappa={kappa!r} with {self._schedule()}: {error}") from None
        _check_interval(self)

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

    def _schedule(self) -> str:
        return f"beta_min={self.beta_min!r}, beta_max={self.beta_max!r}"


S_EPS_MIN = 1e-30  # smallest s(t_eps) accepted: float32 keeps -ε/s (<= 1e30 |ε|) finite (docs/math.md §12.9)
TERMINAL_RATIO = 10.0  # σ(T)/σ_d below which the terminal law is not the noised data's (docs/math.md §12.9)
END_RATIO = 0.01  # σ(t_eps)/σ_d above which the end of sampling is too noisy to calibrate (docs/math.md §5.4)


def _check_interval(form: VPFamily) -> None:
    """Reject an interval float32 cannot sample (docs/math.md §12.9): ``s(t_eps)`` below :data:`S_EPS_MIN`
    (an explicit t_eps with small κ) or ``t_eps`` below :data:`T_EPS_MIN` (σ_eps reached only at a tinier t:
    large κ)."""
    b_eps = float(form.B(torch.tensor(form.t_eps, dtype=torch.float64)))
    log_s_eps = math.log(-math.expm1(-form.kappa * b_eps)) / (2 * form.kappa)
    where = f"kappa={form.kappa!r} with {form._schedule()}, t_eps={form.t_eps:.3g}"
    if log_s_eps < math.log(S_EPS_MIN):
        raise ValueError(
            f"{where}: the noise s(t_eps) = {math.exp(log_s_eps):.3g} is below {S_EPS_MIN:g}, where float32 "
            "sampling overflows the score -eps/s into NaN; leave t_eps unset (it then follows sigma_eps)"
        )
    if form.t_eps < T_EPS_MIN:
        largest = largest_kappa(form.beta_min, form.beta_max, form.T, form.sigma_eps)
        raise ValueError(
            f"{where}: sigma_eps={form.sigma_eps:g} is reached only at t_eps < {T_EPS_MIN:g}, too close to 0 "
            f"for float32 times; the largest kappa here is {largest:g}"
        )


def _bisect_kappa(holds, lo: float, hi: float) -> float:
    """The boundary κ between ``lo`` (``holds`` false) and ``hi`` (true), geometric bisection."""
    for _ in range(200):
        mid = math.sqrt(lo * hi)
        lo, hi = (lo, mid) if holds(mid) else (mid, hi)
    return hi if holds(hi) else lo


def _round(kappa: float, up: bool) -> float:
    """``kappa`` to 3 significant digits, rounded inwards (up for a lower bound)."""
    scale = 10.0 ** (2 - math.floor(math.log10(kappa)))
    return (math.ceil if up else math.floor)(kappa * scale) / scale


def smallest_safe_kappa(beta_min: float, beta_max: float, T: float = 1.0, sigma_data: float = 1.0) -> float:
    """The smallest κ whose terminal noise-to-signal ratio ``σ(T)`` is at least :data:`TERMINAL_RATIO` times
    the data scale ``σ_d`` for this β schedule (docs/math.md §12.9), 3 significant digits. σ(T) grows with
    κ."""
    b_T = beta_min * T + (beta_max - beta_min) * T / 2
    target = math.log(TERMINAL_RATIO * sigma_data)

    def holds(kappa):  # ln σ(T) = ln(e^{κB} - 1)/(2κ), without overflow
        kb = kappa * b_T
        return (kb + math.log(-math.expm1(-kb))) / (2 * kappa) >= target

    if not holds(1e3):
        raise ValueError(
            f"no kappa reaches sigma(T) >= {TERMINAL_RATIO:g} sigma_data with beta_max={beta_max!r}"
        )
    return _round(_bisect_kappa(holds, 1e-6, 1e3), up=True)


def largest_kappa(beta_min: float, beta_max: float, T: float = 1.0, sigma_eps: float = SIGMA_EPS) -> float:
    """The largest κ whose ``t_eps = t_of_sigma(σ_eps)`` is at least :data:`T_EPS_MIN` (docs/math.md §12.9), 3
    significant digits: t_eps shrinks like ``σ_eps^{2κ}/(κ β_min)`` as κ grows."""

    def holds(kappa):  # t_eps <= T_EPS_MIN, from B(t_eps) = ln(1 + σ_eps^{2κ})/κ
        b = math.log1p(sigma_eps ** (2 * kappa)) / kappa
        slope = (beta_max - beta_min) / T
        t = 2 * b / (beta_min + math.sqrt(beta_min**2 + 2 * slope * b))
        return t < T_EPS_MIN

    return _round(_bisect_kappa(holds, 1e-3, 1e3), up=False)


def calibration_warnings(formulation: Formulation, sigma_data: float) -> list[str]:
    """What keeps ``formulation`` from sampling calibrated posteriors of data of scale ``σ_d``, one line each
    (docs/math.md §5.4, §12.9): a terminal ratio σ(T) below :data:`TERMINAL_RATIO` σ_d (the terminal law
    ``N(0, s(T)² I)`` misses the noised data's), an end σ(t_eps) above :data:`END_RATIO` σ_d."""
    warnings, name = [], formulation.label
    sigma_T, sigma_end = float(formulation.sigma(torch.tensor(formulation.T))), formulation.sigma_end
    if sigma_T < TERMINAL_RATIO * sigma_data:
        warnings.append(
            f"{name}: the terminal noise-to-signal ratio sigma(T) = {sigma_T:.3g} is only "
            f"{sigma_T / sigma_data:.3g} sigma_data (< {TERMINAL_RATIO:g}): the sampler's start "
            "N(0, s(T)^2 I) is not the noised data's law and the posteriors inherit the mismatch; raise "
            "sigma_max, beta_max or kappa"
        )
    if sigma_end > END_RATIO * sigma_data:
        warnings.append(
            f"{name}: sampling ends at sigma = {sigma_end:.3g} = {sigma_end / sigma_data:.3g} sigma_data "
            f"(> {END_RATIO:g}): posteriors narrower than a few times that come out too wide (or, with "
            "final_step=tweedie, too narrow); lower formulation.sigma_eps or leave t_eps unset"
        )
    return warnings


class VP(VPFamily):
    """The VP SDE of Song et al. (2021): the κ-family at κ = 1 (docs/math.md §3)."""

    def __init__(
        self,
        beta_min: float,
        beta_max: float,
        T: float = 1.0,
        sigma_eps: float = SIGMA_EPS,
        t_eps: float | None = None,
    ):
        super().__init__(beta_min, beta_max, kappa=1.0, T=T, sigma_eps=sigma_eps, t_eps=t_eps)

    def _name(self):
        return "VP"
