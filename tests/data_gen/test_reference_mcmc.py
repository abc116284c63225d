"""MCMC reference posteriors (docs/math.md §18) on the linear problem, where the posterior is exact: gradient
against finite differences, Laplace against the closed form, and gpCN chains — also with proposals that are
deliberately wrong, so the Metropolis–Hastings correction is what makes them right — against the exact
posterior at σ_n = 1 %, 5 % and 20 % of the mean reading. The comparison rejects a posterior widened 1.2×,
one shifted by half a std and the prior."""

import numpy as np
import pytest

from data_gen.config import compose_config
from data_gen.fem.advdiff import LinearAdvDiff
from data_gen.fem.prior import GPFluxPrior
from data_gen.reference.forward import LinearForward
from data_gen.reference.gpcn import ChainSettings, run_chains, thin
from data_gen.reference.laplace import laplace
from data_gen.reference.posterior import LatentPosterior
from diffinv.core.exact import linear_gaussian_posterior

pytestmark = pytest.mark.fem

SEEDS = (0, 1)
PROPOSALS = {  # (beta, proposal_scale, shift of the proposal's centre in Laplace stds per component)
    "correlated, too wide": (0.8, 1.25, 0.0),
    "off-centre": (0.9, 1.1, 0.3),
}
SAMPLER = compose_config(config_name="reference").sampler  # data_gen/conf/reference.yaml
ESS_MIN = 3000  # a std's relative standard error <= 1/sqrt(2 ESS) = 0.013, a mean's <= 0.018 std


@pytest.fixture(scope="module")
def problem():
    """The linear forward map on a coarse mesh, the unclipped GP prior, prior draws and their readings."""
    forward = LinearForward(LinearAdvDiff("85x20").forward_map())
    prior = GPFluxPrior(clip=False)
    q = prior.sample(np.random.default_rng(5), 200)
    return forward, prior, q, forward(q)


def _case(problem, noise: float, seed: int):
    forward, prior, q, y_clean = problem
    std = noise * np.abs(y_clean).mean()
    y = y_clean[seed] + std * np.random.default_rng([seed, 2]).standard_normal(y_clean.shape[1])
    mean, cov = linear_gaussian_posterior(prior.mean, prior.cov, forward.forward_map, std**2 * np.eye(30), y)
    return LatentPosterior(forward, prior.mean, prior.cov, y, std, clip=False), mean.numpy(), cov.numpy()


def _mismatch(samples: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> tuple[float, float, float]:
    """Std ratio (the exact check's: mean over segments), worst segment's std ratio, worst |mean err|/std."""
    std = np.sqrt(np.diag(cov))
    ratio = samples.std(axis=0, ddof=1) / std
    return (
        float(ratio.mean()),
        float(np.abs(ratio - 1).max()),
        float((np.abs(samples.mean(0) - mean) / std).max()),
    )


def _agrees(samples, mean, cov) -> bool:
    # 2 % (the bound) for the exact check's std ratio; ~7 standard errors for the worst segment
    ratio, worst_ratio, worst_mean = _mismatch(samples, mean, cov)
    return abs(ratio - 1) <= 0.02 and worst_ratio <= 0.1 and worst_mean <= 0.15


def _chains_agree(posterior, mean, cov, settings, centre_shift, seed):
    approx = laplace(posterior)
    centre = approx.mean + centre_shift * np.sqrt(np.diag(approx.cov))
    chains = run_chains(posterior.log_prob, centre, approx.cov, settings, np.random.default_rng(seed),
                        monitor=posterior.latent)  # fmt: skip
    assert chains.converged and chains.rhat.max() <= 1.01 and chains.ess.min() >= ESS_MIN
    samples = posterior.physical(thin(chains.draws, settings.n_keep))
    assert _agrees(samples, mean, cov), _mismatch(samples, mean, cov)


@pytest.mark.parametrize("clip", [False, True])
def test_gradient_matches_finite_differences(problem, clip):
    forward, prior, q, y_clean = problem
    posterior = LatentPosterior(forward, prior.mean, prior.cov, y_clean[0] + 3.0, 5.0, clip=clip)
    rng = np.random.default_rng(0)
    for w in rng.standard_normal((3, 30)) * 2:  # clip: about 3 % of the z components negative
        value, grad = posterior.log_prob_and_grad(w)
        assert value == pytest.approx(posterior.log_prob(w)[0], rel=1e-12)
        h = 1e-6
        steps = np.eye(30) * h
        fd = (posterior.log_prob(w + steps) - posterior.log_prob(w - steps)) / (2 * h)
        np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-5 * np.abs(grad).max())


def test_laplace_is_the_exact_posterior_of_the_linear_problem(problem):
    posterior, mean, cov = _case(problem, 0.05, 0)
    approx = laplace(posterior)
    s = posterior.prior_sqrt
    np.testing.assert_allclose(posterior.latent(approx.mean), mean, atol=1e-6 * np.sqrt(np.diag(cov)).min())
    np.testing.assert_allclose(s @ approx.cov @ s.T, cov, atol=1e-8 * cov.max())


@pytest.mark.parametrize("noise", [0.01, 0.05, 0.2])
def test_default_chains_reproduce_the_exact_posterior(problem, noise):
    settings = ChainSettings.from_config(SAMPLER, ess_min=ESS_MIN)  # otherwise the command's defaults
    for seed in SEEDS:
        posterior, mean, cov = _case(problem, noise, seed)
        _chains_agree(posterior, mean, cov, settings, 0.0, seed)


@pytest.mark.parametrize("proposal", PROPOSALS)
def test_wrong_proposals_are_corrected_to_the_exact_posterior(problem, proposal):
    # on the linear problem the Laplace approximation is the posterior: with a proposal made from it unchanged
    # the chains would be right even without the accept/reject step; these are not, so the MH step must be
    beta, scale, shift = PROPOSALS[proposal]
    settings = ChainSettings.from_config(
        SAMPLER, beta=beta, proposal_scale=scale, ess_min=ESS_MIN, max_steps=40000
    )
    posterior, mean, cov = _case(problem, 0.05, 2)
    _chains_agree(posterior, mean, cov, settings, shift, 2)


def test_comparison_rejects_wrong_posteriors(problem):
    posterior, mean, cov = _case(problem, 0.05, 0)
    rng = np.random.default_rng(1)
    exact = rng.multivariate_normal(mean, cov, 4000)
    std = np.sqrt(np.diag(cov))
    assert _agrees(exact, mean, cov)
    assert not _agrees(mean + 1.2 * (exact - mean), mean, cov)  # widened 1.2x
    assert not _agrees(exact + 0.5 * std, mean, cov)  # shifted by half a std
    prior = GPFluxPrior(clip=False)
    assert not _agrees(rng.multivariate_normal(prior.mean, prior.cov, 4000), mean, cov)
