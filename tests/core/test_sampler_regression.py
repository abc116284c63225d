"""The samplers draw the same samples for the same seed as before their rewrite in k-diffusion's shape: every
public sampler and option of :mod:`tests.helpers.sampler_cases`, on four formulations, in float64 and float32,
against the outputs pinned in ``tests/core/data/sampler_reference.npz`` (written at commit 671314e)."""

from pathlib import Path

import numpy as np
import pytest

from tests.helpers.sampler_cases import all_keys, run_case

REFERENCE = Path(__file__).parent / "data" / "sampler_reference.npz"


@pytest.fixture(scope="module")
def reference():
    with np.load(REFERENCE) as data:
        return dict(data)


@pytest.mark.parametrize("key", all_keys(), ids="/".join)
def test_same_samples_as_before(key, reference):
    np.testing.assert_array_equal(run_case(*key), reference["/".join(key)])
