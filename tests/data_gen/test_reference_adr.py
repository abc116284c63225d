"""The MCMC reference on the nonlinear ADR model (docs/math.md §18): the tangent-linear Jacobian of the Newton
solution and the log-posterior gradient through it against finite differences, on a coarse mesh; and (slow)
the sharded, resumable command on a tiny ADR dataset, its file read back and checked against the data."""

import numpy as np
import pytest

from data_gen.fem.adr import NonlinearADR
from data_gen.fem.prior import GPFluxPrior
from data_gen.reference.posterior import LatentPosterior

pytestmark = pytest.mark.fem


@pytest.fixture(scope="module")
def model():
    return NonlinearADR("43x10")


def test_tangent_linear_jacobian_matches_finite_differences(model):
    q = GPFluxPrior().sample(np.random.default_rng(3), 1)[0]
    y, jac = model.readings_and_jacobian(q)
    np.testing.assert_allclose(y, model(q[None])[0], rtol=1e-12)
    h = 1e-4  # Newton stops at residual 1e-10, so the central difference is accurate to ~1e-6 here
    steps = np.eye(30) * h
    fd = (model(q + steps) - model(q - steps)).T / (2 * h)
    np.testing.assert_allclose(jac, fd, atol=1e-5 * np.abs(jac).max())
    assert np.abs(jac).max() > 0.01  # the readings do depend on the fluxes


def test_log_posterior_gradient_through_newton_matches_finite_differences(model):
    prior = GPFluxPrior()
    truth = prior.sample(np.random.default_rng(4), 1)[0]
    std = 0.02 * np.abs(model(truth[None])).mean()
    y = model(truth[None])[0] + std * np.random.default_rng(5).standard_normal(30)
    posterior = LatentPosterior(model, prior.mean, prior.cov, y, std, clip=True)
    w = np.random.default_rng(6).standard_normal(30)
    _, grad = posterior.log_prob_and_grad(w)
    h = 1e-4
    directions = np.random.default_rng(7).standard_normal((4, 30))
    for d in directions:
        fd = (posterior.log_prob(w + h * d)[0] - posterior.log_prob(w - h * d)[0]) / (2 * h)
        assert grad @ d == pytest.approx(fd, rel=1e-4, abs=1e-6 * np.abs(grad).sum())


@pytest.mark.slow
def test_sharded_resumable_command_writes_a_reference_matching_the_runs_test_readings(tmp_path):
    from data_gen.config import compose_config
    from data_gen.fem.adr_generate import generate as generate_data
    from data_gen.fem.chunks import ChunkError
    from data_gen.reference.generate import generate as generate_reference
    from diffinv.data.datamodule import PairedDataModule
    from diffinv.data.reference import ReferenceError, check_reference, read_reference

    data = ["problem=adr", "problem.mesh=43x10", "problem.n_train=40", "problem.n_test=4", "workers=1"]
    generate_data(compose_config(*data, f"out={tmp_path / 'adr.h5'}"))
    generate_data(compose_config(*data, "seed=1", f"out={tmp_path / 'other.h5'}"))
    out = tmp_path / "ref.h5"
    settings = ["sampler.chains=4", "sampler.n_keep=400", "sampler.ess_min=200", "sampler.block_steps=100"]
    data_file = f"data_file={tmp_path / 'adr.h5'}"
    common = ["problem=adr", "problem.mesh=43x10", data_file, "noise=0.05", "n_cases=2", f"out={out}",
              "num_shards=2", *settings]  # fmt: skip

    generate_reference(compose_config(*common, "shard=0", config_name="reference"))
    assert not out.exists() and [p.name for p in (tmp_path / "ref.h5.parts").iterdir()] == ["case_00000.npz"]
    generate_reference(compose_config(*common, "shard=1", config_name="reference"))  # the last shard merges
    first = read_reference(out)
    out.unlink()
    generate_reference(compose_config(*common, "shard=0", config_name="reference"))  # nothing left: re-merges
    ref = read_reference(out)
    np.testing.assert_array_equal(ref.samples, first.samples)

    dm = PairedDataModule(str(tmp_path / "adr.h5"), noise=0.05, seed=0)
    dm.setup()
    truth, y, _ = dm.test_measurements(2)
    assert ref.noise_std == dm.noise_std
    np.testing.assert_array_equal(ref.arrays["y"], y)
    np.testing.assert_array_equal(ref.arrays["truth"], truth)
    np.testing.assert_array_equal(ref.case_index, [0, 1])
    assert ref.samples.shape == (2, 400, 30) and np.all(ref.samples >= 0)  # the clipped prior's fluxes
    assert (
        ref.arrays["converged"].all()
        and ref.arrays["rhat"].max() <= 1.01
        and ref.arrays["ess_bulk"].min() >= 200
    )
    assert np.all(ref.arrays["forward_solves"] >= 4 * ref.arrays["steps"])

    check_reference(ref, tmp_path / "adr.h5", noise=0.05, seed=0)
    for data_file, noise, seed, what in [
        (tmp_path / "other.h5", 0.05, 0, "made for data file"),
        (tmp_path / "adr.h5", 0.2, 0, "data.noise=0.05"),
        (tmp_path / "adr.h5", 0.05, 1, "seed=0"),
    ]:
        with pytest.raises(ReferenceError, match=what):
            check_reference(ref, data_file, noise=noise, seed=seed)

    out.unlink()  # other sampler settings: the case files on disk are stale and refused
    with pytest.raises(ChunkError, match="other settings"):
        generate_reference(compose_config(*common, "shard=0", "sampler.beta=0.9", config_name="reference"))
