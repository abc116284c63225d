"""Nonlinear ADR (docs/problems.md §4): Newton converges from the linear predictor, downstream c → 2,
failures are detected and retried, never returned."""

import numpy as np
import pytest

from data_gen.fem.adr import ConvergenceError, NonlinearADR
from data_gen.fem.prior import GPFluxPrior
from data_gen.fenics import dolfinx
from diffinv.problems.flux import geometry

pytestmark = pytest.mark.fem


@pytest.fixture(scope="module")
def model():
    return NonlinearADR("85x20")


@pytest.fixture(scope="module")
def fluxes():
    return GPFluxPrior().sample(np.random.default_rng(11), 5)


def test_newton_converges_from_the_predictor_in_few_iterations(model, fluxes):
    for q in fluxes:
        c, report = model.solve(q)
        assert report.attempt == 0 and report.iterations <= 6
        assert np.all(np.isfinite(c))


def test_downstream_concentration_tends_to_two(model, fluxes):
    y = model.readings(fluxes)
    downstream = np.isclose(geometry.sensor_coords()[:, 0], 7.5)
    assert np.abs(y[:, downstream] - 2.0).max() < 0.15
    upstream = np.isclose(geometry.sensor_coords()[:, 0], 0.5)
    assert y[:, upstream].max() < 1.0  # the level 2 is reached downstream, not imposed everywhere


def test_residual_of_returned_solution_is_zero(model, fluxes):
    c, _ = model.solve(fluxes[0])
    model.c.x.array[:] = c
    F = model._problem.b
    with F.localForm() as local:
        local.set(0.0)
    dolfinx.fem.petsc.assemble_vector(F, model._problem.F)
    dolfinx.fem.petsc.apply_lifting(F, [model._problem.J], bcs=[[model.disc.bc]], x0=[model.c.x.petsc_vec])
    dolfinx.fem.petsc.set_bc(F, [model.disc.bc], model.c.x.petsc_vec)
    assert F.norm() < 1e-8


def test_newton_from_zero_is_detected_as_a_failure(model, fluxes):
    # docs/problems.md §4: with r = 10 the Jacobian at c = 0 carries -r and plain Newton diverges;
    # whatever happens, a non-converged SNES must surface as ConvergenceError, not as a solution.
    with pytest.raises(ConvergenceError):
        model._solve_from(fluxes[0], np.zeros_like(model.c_mean), damped=False)


def test_failed_attempt_is_retried_with_damping(model, fluxes, monkeypatch):
    real = model._solve_from
    calls = []

    def fail_first(q, start, damped):
        calls.append(damped)
        if len(calls) == 1:
            raise ConvergenceError("forced")
        return real(q, start, damped)

    monkeypatch.setattr(model, "_solve_from", fail_first)
    c, report = model.solve(fluxes[1])
    assert report.attempt == 1 and calls == [False, True]
    assert np.allclose(model.disc.sensors @ c, model.disc.sensors @ real(fluxes[1], model.c_mean, True))


def test_sample_failing_every_attempt_raises(model, fluxes, monkeypatch):
    def always_fail(q, start, damped):
        raise ConvergenceError("forced")

    monkeypatch.setattr(model, "_solve_from", always_fail)
    with pytest.raises(ConvergenceError, match="Newton failed"):
        model.solve(fluxes[2])
