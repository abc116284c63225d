"""The toy problems of docs/problems.md §1: exact conditional sampler and joint density against the joint
sampler; one recipe for their datasets."""

import functools

import numpy as np
import pytest

from data_gen.toy import generate
from diffinv.core.formulations import VPFamily
from diffinv.core.samplers import sample_sde
from diffinv.data.schema import read_dataset
from diffinv.problems.densities import definitions as toy
from diffinv.problems.densities import figures
from diffinv.run.labels import run_label

CASES = [("tanh", 0.6), ("bimodal", 1.0), ("spiral", 0.25)]
BINS = 20


def chi_square(observed: np.ndarray, probabilities: np.ndarray) -> tuple[float, float]:
    """Pearson's statistic and a 5-sigma bound of its distribution, ``dof + 5 sqrt(2 dof)``.

    With every expected count >= 50 the statistic is chi-square with ``bins - 1`` dof to good accuracy, so a
    correct sampler exceeds the bound with probability below 1e-4; a wrong density (a shifted mode, a
    missing branch) gives thousands.
    """
    expected = observed.sum() * probabilities
    assert expected.min() >= 50, "too few counts per bin for the chi-square approximation"
    dof = len(observed) - 1
    return float(((observed - expected) ** 2 / expected).sum()), dof + 5 * np.sqrt(2 * dof)


def bin_edges(edges: np.ndarray, prob: np.ndarray) -> np.ndarray:
    """``BINS`` bins of nearly equal probability under the grid density (well filled everywhere)."""
    cdf = np.concatenate([[0.0], np.cumsum(prob)])
    return np.interp(np.linspace(0, 1, BINS + 1), cdf / cdf[-1], edges)


def grid_bin_probabilities(edges, prob, bins) -> np.ndarray:
    cdf = np.concatenate([[0.0], np.cumsum(prob)])
    return np.diff(np.interp(bins, edges, cdf / cdf[-1]))


@pytest.mark.parametrize(("name", "y_star"), CASES)
def test_exact_sampler_matches_its_grid_density(name, y_star):
    edges, prob = toy.conditional_grid(name, y_star)
    bins = bin_edges(edges, prob)
    draws = toy.sample_conditional(name, y_star, 100_000, np.random.default_rng(1))
    observed = np.histogram(draws, bins)[0]
    stat, bound = chi_square(observed, grid_bin_probabilities(edges, prob, bins))
    assert stat < bound


@pytest.mark.parametrize(("name", "y_star"), CASES)
def test_exact_conditional_matches_joint_samples_in_a_thin_band(name, y_star):
    """x of 3,000,000 joint samples with |y - y*| < 0.02 against the band average of the exact conditional."""
    half = 0.02
    x, y = toy.problem(name).sample_joint(3_000_000, np.random.default_rng(2))
    band_x = x[np.abs(y - y_star) < half]
    ys = y_star + half * (np.arange(20) + 0.5) / 10 - half  # midpoints across the band
    edges = np.linspace(*toy.problem(name).x_range, 4001)
    centres = 0.5 * (edges[1:] + edges[:-1])
    joint = np.mean([toy.problem(name).joint_density(centres, v) for v in ys], axis=0)
    prob = joint / joint.sum()
    bins = bin_edges(edges, prob)
    observed = np.histogram(band_x, bins)[0]
    stat, bound = chi_square(observed, grid_bin_probabilities(edges, prob, bins))
    assert stat < bound, (stat, bound, len(band_x))


def test_a_wrong_density_fails_the_same_check():
    """The check has power: bimodal draws at y* = 1.0 are rejected against the density at y* = 1.3."""
    edges, prob = toy.conditional_grid("bimodal", 1.3)
    bins = bin_edges(edges, prob)
    draws = toy.sample_conditional("bimodal", 1.0, 100_000, np.random.default_rng(3))
    stat, bound = chi_square(np.histogram(draws, bins)[0], grid_bin_probabilities(edges, prob, bins))
    assert stat > 10 * bound


def test_generate_writes_the_schema(tmp_path):
    path = generate("spiral", tmp_path / "spiral.h5", n_train=300, n_test=500, seed=4)
    data = read_dataset(path)
    assert data.train.x.shape == (300, 1) and data.test.y_clean.shape == (500, 1)
    assert data.attrs["problem"] == "spiral" and data.attrs["seed"] == 4
    again = read_dataset(generate("spiral", tmp_path / "again.h5", n_train=300, n_test=500, seed=4))
    np.testing.assert_array_equal(data.train.x, again.train.x)


def test_unknown_problem_is_rejected():
    with pytest.raises(ValueError, match="unknown toy problem 'moons'"):
        toy.problem("moons")


def test_one_recipe_for_the_data_gen_command_and_for_training(tmp_path):
    """``python -m data_gen problem=tanh`` and ``diffinv.train problem=tanh`` (first use) read the same yaml
    (data_gen/conf/problem/tanh.yaml) and write the same pairs; training names its file by the recipe."""
    from hydra import compose, initialize_config_dir

    from data_gen.__main__ import main as data_gen_main
    from data_gen.config import compose_config
    from diffinv.data.source import ensure_dataset
    from tests.helpers.runs import CONF

    small = ("problem.n_train=300", "problem.n_test=500")
    cli = compose_config("problem=tanh", *small, f"paths.data_dir={tmp_path / 'cli'}")
    data_gen_main(cli)  # Hydra passes a given config straight through (no run directory)
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        train_cfg = compose(
            "train",
            ["problem=tanh", f"paths.data_dir={tmp_path / 'train'}"]
            + [f"+problem.dataset.overrides.{o}" for o in small],
        )
    made = ensure_dataset(train_cfg)
    assert made.name.startswith("tanh-") and made.parent == tmp_path / "train"
    from_cli, from_train = read_dataset(tmp_path / "cli" / "tanh.h5"), read_dataset(made)
    np.testing.assert_array_equal(from_cli.train.x, from_train.train.x)
    np.testing.assert_array_equal(from_cli.test.y_clean, from_train.test.y_clean)
    assert from_train.test.x.shape == (500, 1)


@pytest.mark.parametrize("kind", ["conditional", "posterior"])
def test_histogram_figures_show_the_run_label_above_the_panel_titles(kind):
    """The title names the formulation and sampler with their parameters, and sits above (not over) the
    panels' titles."""
    title = run_label("tanh", VPFamily(0.001, 15.0, kappa=2.0), [functools.partial(sample_sde, steps=500)])
    assert title == "tanh · VP-κ=2 · SDE 500 steps logsnr"
    rng = np.random.default_rng(0)
    y_stars = [-0.6, 0.0, 0.6, 1.2]
    if kind == "conditional":
        edges, prob = zip(*(toy.conditional_grid("tanh", y) for y in y_stars), strict=True)
        band = [rng.normal(size=50) for _ in y_stars]
        fig = figures.conditional_histograms(y_stars, rng.normal(size=(4, 200)), band, edges, prob, title)
    else:
        fig = figures.posterior_histograms(rng.normal(size=(4, 200, 1)), title)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    (suptitle,) = fig.texts
    assert suptitle.get_text() == title
    bottom = suptitle.get_window_extent(renderer).y0
    assert all(bottom >= ax.title.get_window_extent(renderer).y1 for ax in fig.axes)
