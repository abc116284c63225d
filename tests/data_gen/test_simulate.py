"""Problems of one's own, the data side (docs/design.md §9): the examples' prior, forward model and
observation model make the paired file; a linear model is found and its map stored (the exact posterior
follows), a nonlinear one is not; the chunked, sharded pool (with DOLFINx workers) writes what the
superposition writes; bad models and priors are refused naming the key."""

import sys
from pathlib import Path

import numpy as np
import pytest

from data_gen.config import compose_config
from data_gen.priors import GaussianProcess, grid_points, rbf_kernel
from data_gen.simulate import generate, linear_map
from diffinv.data.schema import read_dataset

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def example_config(name: str, tmp_path: Path, *overrides: str):
    """``python -m data_gen --config-dir examples/<name> problem=<name> <overrides>``; its module imports."""
    if str(EXAMPLES / name) not in sys.path:
        sys.path.insert(0, str(EXAMPLES / name))
    search = f"hydra.searchpath=[file://{EXAMPLES / name}]"
    return compose_config(search, f"problem={name}", f"paths.data_dir={tmp_path}", *overrides)


def test_a_linear_model_is_found_and_its_map_stored(tmp_path):
    cfg = example_config("source_1d", tmp_path, "problem.simulator.n_train=50", "problem.simulator.n_test=5")
    generate(cfg)
    data = read_dataset(tmp_path / "source_1d.h5")
    from source_1d import SteadyDiffusion

    model = SteadyDiffusion()
    np.testing.assert_allclose(data.attrs["forward_map"], model.matrix, rtol=0, atol=1e-14)
    np.testing.assert_allclose(data.train.y_clean, model(data.train.x), rtol=0, atol=1e-12)
    assert data.x_dim == 20 and data.y_dim == 15 and not data.attrs["clip"]
    np.testing.assert_allclose(data.attrs["x_coords"][:, 0], (np.arange(20) + 0.5) / 20)
    assert data.attrs["x_shape"].tolist() == [20] and data.attrs["sensor_coords"].shape == (15, 1)
    prior = GaussianProcess(grid=[20], bounds=[[0.025, 0.975]], lengthscale=0.1, nugget=1e-4)
    np.testing.assert_allclose(data.attrs["prior_cov"], prior.cov)
    again = example_config(
        "source_1d", tmp_path, "problem.simulator.n_train=50", "problem.simulator.n_test=5"
    )
    again.out = str(tmp_path / "again.h5")
    generate(again)  # one seed: the same draws
    np.testing.assert_array_equal(read_dataset(again.out).train.x, data.train.x)


def square(x):
    return x**2


@pytest.mark.parametrize("linear", ["auto", True, False])
def test_a_nonlinear_model_has_no_forward_map(tmp_path, linear):
    cfg = example_config("source_1d", tmp_path, "problem.simulator.n_train=20", "problem.simulator.n_test=4")
    cfg.problem.simulator.forward_model = {"_target_": f"{__name__}.square", "_partial_": True}
    cfg.problem.simulator.linear = linear
    if linear is True:
        with pytest.raises(ValueError, match=r"linear=true, but the forward model is not linear"):
            generate(cfg)
        return
    generate(cfg)
    data = read_dataset(cfg.out)
    assert "forward_map" not in data.attrs and "prior_cov" in data.attrs
    np.testing.assert_allclose(data.test.y_clean, data.test.x**2)


def test_linear_map_probes_and_tolerance():
    a = np.random.default_rng(0).normal(size=(3, 5))
    probes = np.random.default_rng(1).normal(size=(2, 5))
    np.testing.assert_allclose(linear_map(lambda x: x @ a.T, probes, "auto"), a, atol=1e-14)
    assert linear_map(lambda x: x @ a.T + 1e-3, probes, "auto") is None  # affine is not linear
    assert linear_map(lambda x: x @ a.T, probes, False) is None
    with pytest.raises(ValueError, match="choose auto, true or false"):
        linear_map(lambda x: x, probes, "maybe")


@pytest.mark.fem
def test_the_chunked_sharded_pool_writes_what_superposition_writes(tmp_path):
    """The DOLFINx heat model solved sample by sample in 2 spawned workers, as two shards (the second merges),
    against the same draws through the stored map."""
    sizes = ("problem.simulator.n_train=30", "problem.simulator.n_test=6", "chunk_size=8")
    reference = example_config("heat_field", tmp_path / "superposition", *sizes)
    generate(reference)
    direct = [
        example_config(
            "heat_field",
            tmp_path / "direct",
            *sizes,
            "method=direct",
            "workers=2",
            "num_shards=2",
            f"shard={i}",
        )
        for i in (0, 1)
    ]
    generate(direct[0])
    assert not Path(direct[0].out).exists() and list(Path(direct[0].out + ".parts").glob("chunk_*.npz"))
    generate(direct[1])
    a, b = read_dataset(reference.out), read_dataset(direct[1].out)
    np.testing.assert_array_equal(a.train.x, b.train.x)
    np.testing.assert_allclose(b.train.y_clean, a.train.y_clean, rtol=0, atol=1e-10)
    np.testing.assert_allclose(b.test.y_clean, a.test.y_clean, rtol=0, atol=1e-10)
    assert b.attrs["forward_map"].shape == (49, 256) and b.attrs["x_shape"].tolist() == [16, 16]
    assert "forward_map" in read_dataset(reference.out).attrs  # large attributes live under attrs/


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"forward_model": {"_target_": "numpy.sum", "_partial_": True}}, "returned shape"),
        ({"noise": "laplace"}, "the one noise law is 'gaussian'"),
        ({"n_train": 0}, "problem.simulator.n_train=0"),
        ({"prior": {"_target_": "data_gen.priors.GaussianProcess"}}, "give either grid"),
    ],
)
def test_bad_simulators_are_refused_naming_the_key(tmp_path, change, message):
    cfg = example_config("source_1d", tmp_path, "problem.simulator.n_train=20", "problem.simulator.n_test=4")
    for key, value in change.items():  # replaced, not merged
        cfg.problem.simulator[key] = value
    with pytest.raises(ValueError, match=message):
        generate(cfg)
    assert not Path(cfg.out).exists()


def test_the_gaussian_process_on_a_grid():
    points = grid_points([3, 2], [[0, 2], [10, 11]])
    assert points.tolist() == [
        [0, 10],
        [0, 11],
        [1, 10],
        [1, 11],
        [2, 10],
        [2, 11],
    ]  # row-major, first axis x
    prior = GaussianProcess(
        grid=[3, 2], bounds=[[0, 2], [10, 11]], mean=1.5, lengthscale=0.7, variance=2.0, nugget=0.1
    )
    np.testing.assert_allclose(prior.cov, rbf_kernel(points, 0.7, 2.0) + 0.2 * np.eye(6))
    draws = prior.sample(np.random.default_rng(0), 200_000)
    np.testing.assert_allclose(draws.mean(axis=0), 1.5, atol=0.02)
    np.testing.assert_allclose(np.cov(draws.T), prior.cov, atol=0.03)
