"""Shared fixtures: closed-form distributions (docs/math.md §9) and the formulations under test."""

import pytest
import torch

from diffinv.core.exact import GaussianMixture
from diffinv.core.formulations import VE, VP, VPFamily

torch.set_num_threads(2)

# sigma_max = 50 is large against the mixture's spread (docs/math.md §2 rule of thumb), beta_max = 20 makes
# m(T) = e^{-5} negligible, so the terminal distributions are exact to well below sampling error.
FORMULATIONS = {
    "VE": VE(sigma_min=0.01, sigma_max=50.0),
    "VP": VP(beta_min=0.1, beta_max=20.0),
    "VPk0.5": VPFamily(beta_min=0.1, beta_max=20.0, kappa=0.5),
    "VPk2": VPFamily(beta_min=0.1, beta_max=20.0, kappa=2.0),
}


@pytest.fixture(params=list(FORMULATIONS), ids=list(FORMULATIONS))
def formulation(request):
    return FORMULATIONS[request.param]


@pytest.fixture
def mixture_2d():
    """Three components, unequal weights, correlated covariances."""
    return GaussianMixture(
        weights=[0.5, 0.3, 0.2],
        means=[[-2.0, 0.0], [2.0, 1.0], [0.0, -2.5]],
        covs=[[[0.3, 0.0], [0.0, 0.3]], [[0.5, 0.2], [0.2, 0.3]], [[0.1, 0.0], [0.0, 0.1]]],
    )
