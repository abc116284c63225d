"""Generalised preconditioned Crank–Nicolson chains on emcee, stopped by ArviZ diagnostics
(docs/math.md §18.3).

The move (Rudolf & Sprungk 2018; hIPPYlib's gpCN) proposes ``w' = μ + ρ (w - μ) + β L ξ``, ``ξ ~ N(0, I)``,
``ρ = √(1 - β²)``, with ``N(μ, L Lᵀ)`` the (scaled) Laplace approximation. The proposal is reversible with
respect to ``N(μ, L Lᵀ)``, so the Metropolis–Hastings log-ratio is ``log π(w') - log π(w) + log N(w) -
log N(w')``: exact for any ``β ∈ (0, 1]`` and any ``μ``, ``L``. emcee runs it as an
:class:`emcee.moves.MHMove` on every walker independently, so each walker is one chain. After every block of
steps (``block_steps``, or a quarter of the chains' length when that is more) the chains (the first
``warmup`` fraction of each discarded) are checked with ArviZ's rank-normalised split-R̂ and bulk ESS
(Vehtari et al. 2021); sampling stops when every parameter has R̂ ≤ ``rhat_max`` and ESS ≥ ``ess_min`` and
the chains hold ``n_keep`` draws, or at ``max_steps``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, fields

import emcee
import numpy as np
from arviz_stats.base import array_stats

log = logging.getLogger(__name__)


class GpcnMove(emcee.moves.MHMove):
    """gpCN proposal around ``N(mean, chol cholᵀ)`` with step ``beta``."""

    def __init__(self, mean: np.ndarray, chol: np.ndarray, beta: float):
        if not 0 < beta <= 1:
            raise ValueError(f"sampler.beta={beta}: need 0 < beta <= 1")
        self.mean, self.chol, self.beta = np.asarray(mean), np.asarray(chol), float(beta)
        self.rho = np.sqrt(1.0 - self.beta**2)
        super().__init__(self._propose, ndim=len(self.mean))

    def _log_reference(self, w: np.ndarray) -> np.ndarray:
        """``log N(w; mean, chol cholᵀ)`` up to a constant, row-wise."""
        white = np.linalg.solve(self.chol, (w - self.mean).T)
        return -0.5 * np.sum(white**2, axis=0)

    def _propose(self, coords: np.ndarray, random: np.random.RandomState) -> tuple[np.ndarray, np.ndarray]:
        xi = random.standard_normal(coords.shape)
        proposal = self.mean + self.rho * (coords - self.mean) + self.beta * xi @ self.chol.T
        return proposal, self._log_reference(coords) - self._log_reference(proposal)


@dataclass(frozen=True)
class ChainSettings:
    """``sampler.*`` of ``data_gen/conf/reference.yaml`` (documented there, the only defaults)."""

    chains: int
    beta: float
    proposal_scale: float
    overdispersion: float
    block_steps: int
    max_steps: int
    warmup: float
    rhat_max: float
    ess_min: float
    n_keep: int

    @classmethod
    def from_config(cls, sampler: Mapping, **changes) -> ChainSettings:
        """From the ``sampler`` config (its ``seed`` seeds the cases, not the settings), with ``changes``."""
        return cls(**{f.name: sampler[f.name] for f in fields(cls)} | changes)


@dataclass(frozen=True)
class Chains:
    """Post-warm-up draws (chains, draws, d) of ``w``, how they were obtained, R̂ and ESS of the monitored."""

    draws: np.ndarray
    steps: int
    acceptance: float
    rhat: np.ndarray
    ess: np.ndarray
    converged: bool
    seconds: float


def diagnostics(draws: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rank-normalised split-R̂ and bulk ESS per parameter of (chains, draws, d) (ArviZ)."""
    rhat = array_stats.rhat(draws, chain_axis=0, draw_axis=1, method="rank")
    ess = array_stats.ess(draws, chain_axis=0, draw_axis=1, method="bulk")
    return np.asarray(rhat, dtype=np.float64), np.asarray(ess, dtype=np.float64)


def met(rhat: np.ndarray, ess: np.ndarray, settings: ChainSettings) -> bool:
    """Every parameter has R̂ ≤ ``rhat_max`` and bulk ESS ≥ ``ess_min`` (NaN never meets it)."""
    return bool(np.all(rhat <= settings.rhat_max) and np.all(ess >= settings.ess_min))


def overdispersed_starts(mean, cov, settings: ChainSettings, rng: np.random.Generator) -> np.ndarray:
    """(chains, d) starting points ``mean + overdispersion · Γ^{1/2} ξ`` (wider than the posterior)."""
    chol = np.linalg.cholesky(cov)
    return mean + settings.overdispersion * rng.standard_normal((settings.chains, len(mean))) @ chol.T


def run_chains(
    log_prob, mean, cov, settings: ChainSettings, rng: np.random.Generator, monitor=None
) -> Chains:
    """gpCN chains on ``log_prob`` ((n, d) -> (n,)) from overdispersed starts, until converged or capped.

    R̂ and ESS are those of ``monitor(draws)`` (default the draws themselves): the parameters the stopping
    rule is about, e.g. the latent fluxes ``z = m + S w`` rather than the whitened ``w``.
    """
    monitor = monitor or (lambda draws: draws)
    start = time.perf_counter()
    chol = settings.proposal_scale * np.linalg.cholesky(cov)
    move = GpcnMove(mean, chol, settings.beta)
    sampler = emcee.EnsembleSampler(settings.chains, len(mean), log_prob, moves=[move], vectorize=True)
    sampler.random_state = np.random.RandomState(rng.integers(2**32)).get_state()
    state = overdispersed_starts(mean, cov, settings, rng)
    while True:
        block = max(settings.block_steps, sampler.iteration // 4)  # checks cost O(length): space them out
        block = min(block, settings.max_steps - sampler.iteration)
        state = sampler.run_mcmc(state, block, skip_initial_state_check=True, progress=False)
        steps = sampler.iteration
        draws = sampler.get_chain(discard=int(settings.warmup * steps)).transpose(1, 0, 2)
        rhat, ess = diagnostics(monitor(draws))
        log.info("%d steps: max R̂ %.4f, min bulk ESS %.0f", steps, np.nanmax(rhat), np.nanmin(ess))
        if (met(rhat, ess, settings) and _holds(draws, settings.n_keep)) or steps >= settings.max_steps:
            break
    return Chains(
        draws=draws,
        steps=steps,
        acceptance=float(np.mean(sampler.acceptance_fraction)),
        rhat=rhat,
        ess=ess,
        converged=met(rhat, ess, settings),
        seconds=time.perf_counter() - start,
    )


def _holds(draws: np.ndarray, n_keep: int) -> bool:
    """The chains are long enough for :func:`thin` to take ``n_keep`` distinct draws."""
    return -(-n_keep // draws.shape[0]) <= draws.shape[1]


def thin(draws: np.ndarray, n_keep: int) -> np.ndarray:
    """``n_keep`` draws (n_keep, d), evenly spaced along every chain, the same number from each."""
    chains, length, _ = draws.shape
    per_chain = -(-n_keep // chains)
    if per_chain > length:
        raise ValueError(f"sampler.n_keep={n_keep}: the chains hold only {chains} x {length} draws")
    index = np.linspace(0, length - 1, per_chain).round().astype(int)
    return draws[:, index].reshape(-1, draws.shape[2])[:n_keep]
