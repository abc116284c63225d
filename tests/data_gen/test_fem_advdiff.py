"""Linear advection–diffusion (docs/problems.md §2–3): mesh tags, sensors, superposition, conservation,
files."""

import numpy as np
import pytest
import ufl

from data_gen.config import compose_config
from data_gen.fem.advdiff import LinearAdvDiff
from data_gen.fem.linear_generate import generate
from data_gen.fem.mesh import LEFT, RIGHT, segment_tag
from data_gen.fem.prior import GPFluxPrior
from data_gen.fenics import dolfinx
from diffinv.data.schema import read_dataset
from diffinv.problems.flux import geometry

pytestmark = pytest.mark.fem

COARSE = "85x20"


@pytest.fixture(scope="module")
def model():
    return LinearAdvDiff(COARSE)


def _integral(mesh, form):
    return dolfinx.fem.assemble_scalar(dolfinx.fem.form(form))


def test_every_segment_has_its_exact_length(model):
    mesh, tags = model.disc.mesh, model.disc.facet_tags
    ds = ufl.Measure("ds", domain=mesh, subdomain_data=tags)
    one = dolfinx.fem.Constant(mesh, 1.0)
    lengths = [_integral(mesh, one * ds(segment_tag(k))) for k in range(30)]
    assert np.allclose(lengths, geometry.SEGMENT_LENGTH, rtol=0, atol=1e-12)
    assert _integral(mesh, one * ds(LEFT)) == pytest.approx(2.0)
    assert _integral(mesh, one * ds(RIGHT)) == pytest.approx(2.0)


def test_sensor_matrix_evaluates_linear_fields_exactly(model):
    f = dolfinx.fem.Function(model.disc.V)
    f.interpolate(lambda x: 3.0 * x[0] - 2.0 * x[1] + 1.0)
    s = geometry.sensor_coords()
    assert np.allclose(model.disc.sensors @ f.x.array, 3.0 * s[:, 0] - 2.0 * s[:, 1] + 1.0, atol=1e-12)


def test_superposition_equals_direct_solves(model):
    q = GPFluxPrior().sample(np.random.default_rng(0), 4)
    direct = model.readings(q)
    superposed = q @ model.forward_map().T
    assert np.abs(direct - superposed).max() < 1e-10 * np.abs(direct).max()


def _balance(model, q):
    """(inflow through the segments, outflow: advection at x = 8.5 plus diffusion at x = 0)."""
    disc = model.disc
    c = model.solve(q)
    ds = ufl.Measure("ds", domain=disc.mesh, subdomain_data=disc.facet_tags)
    inflow = sum(
        q[k] * _integral(disc.mesh, dolfinx.fem.Constant(disc.mesh, 1.0) * ds(segment_tag(k)))
        for k in range(30)
    )
    kappa = 0.02
    out_right = _integral(disc.mesh, disc.velocity[0] * c * ds(RIGHT))
    out_left = _integral(disc.mesh, kappa * c.dx(0) * ds(LEFT))  # -κ∇c·n with n = (-1, 0)
    return inflow, out_right + out_left


def test_total_inflow_equals_outflow_within_discretisation_error():
    q = GPFluxPrior().sample(np.random.default_rng(5), 1)[0]
    errors = []
    for mesh in ("43x10", COARSE, "170x40"):
        inflow, outflow = _balance(LinearAdvDiff(mesh), q)
        errors.append(abs(outflow - inflow) / inflow)
    assert errors[-1] < 2e-3
    assert errors[0] > errors[1] > errors[2]  # the imbalance is discretisation error: it shrinks with h


def test_generated_file_reproduces_the_forward_map(tmp_path):
    cfg = compose_config(
        f"problem.mesh={COARSE}", "problem.n_train=50", "problem.n_test=10", f"paths.data_dir={tmp_path}"
    )
    generate(cfg)
    ds = read_dataset(tmp_path / "advdiff.h5")
    A = ds.attrs["forward_map"]
    assert A.shape == (30, 30) and ds.attrs["mesh"] == COARSE and ds.attrs["noise_free"]
    assert np.allclose(ds.train.y_clean, ds.train.x @ A.T, rtol=1e-12)
    assert ds.attrs["prior_cov"].shape == (30, 30) and np.allclose(ds.attrs["prior_mean"], 2.0)
    assert ds.attrs["sensor_coords"].shape == (30, 2) and ds.attrs["segment_coords"].shape == (30, 2)
    assert "problem:" in ds.attrs["config"] and ds.attrs["problem"] == "advdiff"
    assert (ds.train.x >= 0).all() and not ds.has_mask


def test_direct_method_writes_the_same_data(tmp_path):
    common = [f"problem.mesh={COARSE}", "problem.n_train=3", "problem.n_test=2"]
    generate(compose_config(*common, f"paths.data_dir={tmp_path / 'sup'}"))
    generate(compose_config(*common, "method=direct", f"paths.data_dir={tmp_path / 'dir'}"))
    sup, direct = read_dataset(tmp_path / "sup" / "advdiff.h5"), read_dataset(tmp_path / "dir" / "advdiff.h5")
    assert np.array_equal(sup.train.x, direct.train.x)
    assert np.allclose(sup.train.y_clean, direct.train.y_clean, rtol=1e-10)


def test_noclip_variant_has_its_own_file_and_negative_fluxes(tmp_path):
    cfg = compose_config(
        f"problem.mesh={COARSE}", "problem.clip=false", "problem.n_train=400", "problem.n_test=10",
        f"paths.data_dir={tmp_path}",
    )  # fmt: skip
    assert cfg.out.endswith("advdiff_noclip.h5")
    generate(cfg)
    ds = read_dataset(cfg.out)
    assert (ds.train.x < 0).any() and not ds.attrs["clip"]


def test_multiop_stores_masks_and_all_readings(tmp_path):
    cfg = compose_config(
        "problem=advdiff_multiop", f"problem.mesh={COARSE}", "problem.n_train=2000", "problem.n_test=100",
        f"paths.data_dir={tmp_path}",
    )  # fmt: skip
    generate(cfg)
    ds = read_dataset(tmp_path / "advdiff_multiop.h5")
    assert ds.has_mask and ds.train.mask.dtype == bool
    assert abs(ds.train.mask.mean() - 0.7) < 5 * np.sqrt(0.21 / ds.train.mask.size)
    assert np.allclose(
        ds.train.y_clean, ds.train.x @ ds.attrs["forward_map"].T
    )  # readings kept for all sensors


@pytest.mark.parametrize(("override", "key"), [("method=lu", "method"), ("num_shards=2", "num_shards")])
def test_bad_options_name_the_key(tmp_path, override, key):
    cfg = compose_config(f"problem.mesh={COARSE}", override, f"paths.data_dir={tmp_path}")
    with pytest.raises(ValueError, match=key):
        generate(cfg)
