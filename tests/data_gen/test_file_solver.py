"""The forward model a data file was made with, rebuilt from its own config (data_gen.build.FileSolver):
the ADR Newton solver reproduces the file's clean readings, and through ``problem=adr`` it runs the
predictive check of a real training run (docs/math.md §16.3) on a subset of cases."""

import numpy as np
import pytest

from data_gen.build import FileSolver
from data_gen.config import compose_config
from diffinv.data.schema import Split, read_dataset, write_dataset
from tests.helpers.runs import train

pytestmark = pytest.mark.fem


@pytest.fixture(scope="module")
def adr_file(tmp_path_factory):
    from data_gen.fem.adr_generate import generate

    path = tmp_path_factory.mktemp("data") / "adr.h5"
    small = ["problem.mesh=43x10", "problem.n_train=60", "problem.n_test=6", "workers=1"]
    generate(compose_config("problem=adr", *small, f"out={path}"))
    return path


def test_the_files_own_solver_reproduces_its_readings_and_is_built_on_first_use(adr_file):
    solver = FileSolver(adr_file)
    assert solver._solver is None  # configuring it solves nothing
    test = read_dataset(adr_file).test
    np.testing.assert_allclose(solver(test.x[:3]), test.y_clean[:3], rtol=1e-9, atol=1e-12)
    # the file's prior is clipped: a slightly negative flux (a posterior sample just outside the support) is
    # solved as its clip, as the generator solved every draw
    outside = test.x[:2] - 0.3
    assert (outside < 0).any()
    np.testing.assert_array_equal(solver(outside), solver(np.maximum(outside, 0.0)))


def test_a_file_without_a_solver_in_its_config_is_named(tmp_path):
    split = Split(x=np.zeros((2, 3)), y_clean=np.zeros((2, 4)))
    path = write_dataset(
        tmp_path / "toy.h5", {"train": split, "test": split}, attrs={"config": "problem: {}"}
    )
    with pytest.raises(ValueError, match=r"toy.h5: its generator config has no problem.solver"):
        FileSolver(path)(np.zeros((1, 3)))


def test_adr_runs_the_predictive_check_through_its_newton_solver(adr_file, tmp_path):
    (tmp_path / "data").mkdir()
    _, metrics = train(
        tmp_path,
        "problem=adr",
        f"problem.data_file={adr_file}",
        "data.noise=0.05",
        "problem.evaluator.n_test=5",
        "problem.evaluator.ppc_cases=3",
        "problem.evaluator.ppc_samples=4",
        "evaluation.n_samples=20",
    )
    assert 0 <= metrics["ode/ppc/p"] <= 1 and metrics["ode/ppc/z_rms"] > 0
    assert "ode/sbc/p/loglik" not in metrics  # needs every case: left out with ppc_cases < n_test
    assert "ode/sbc/p/dim_00" in metrics
