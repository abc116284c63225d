"""Shared fixtures: closed-form distributions (docs/math.md §9) and the formulations under test."""

import pytest
import torch

from diffinv.core.formulations import VE, VP, VPFamily
from tests.helpers import closed_forms

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
    """Three components, unequal weights, correlated covariances (tests/helpers/closed_forms.py)."""
    return closed_forms.mixture_2d()
