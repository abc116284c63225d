"""The names runs carry (diffinv.run.labels, docs/usage.md §3): the formulation with its parameters, each
sampler with its settings and the noise in both units, from the configs a user composes — the labels that
train.log, figure titles, the W&B run name and reports show."""

import functools

import pytest

from diffinv.core.formulations import VE, VP, VPFamily
from diffinv.core.samplers import sample_dpmpp_3m, sample_sde
from diffinv.run.labels import config_labels, file_stem, noise_label, run_label
from diffinv.run.resolvers import register_resolvers
from tests.helpers.runs import compose_train


@pytest.mark.parametrize(
    ("overrides", "label"),
    [
        (["problem=tanh"], "VE σ_max=12"),
        (["problem=advdiff"], "VE σ_max=5"),
        (["schedule.sigma_min=0.01"], "VE σ_min=0.01 σ_max=12"),
        (["formulation=vp"], "VP"),
        (["formulation=vp", "schedule.beta_min=0.1", "schedule.beta_max=20"], "VP β=[0.1, 20]"),
        (["formulation=vp_family"], "VP-κ=1"),
        (["formulation=vp_family", "formulation.kappa=2"], "VP-κ=2"),
        (
            ["formulation=vp_family", "formulation.kappa=0.5", "schedule.beta_max=20"],
            "VP-κ=0.5 β=[0.001, 20]",
        ),
    ],
)
def test_formulation_labels_carry_their_parameters(overrides, label):
    """Values at the config's defaults (conf/schedule) are left out, every other one is named."""
    cfg = compose_train("problem=tanh", *overrides)
    assert config_labels(cfg)[0] == label


@pytest.mark.parametrize(
    ("overrides", "label"),
    [
        (["sampler=ode"], "DPM-Solver++(3M) 20 steps logsnr"),
        (["sampler=sde"], "SDE-DPM-Solver++(2M) 40 steps logsnr"),
        (["sampler=rk45"], "ODE rk45"),
        (["sampler=rk45", "sampler.rk45.rtol=1e-3"], "ODE rk45 rtol=0.001"),
        (["sampler=heun", "sampler.heun.steps=12", "sampler.heun.rho=5"], "Heun 12 steps karras ρ=5"),
        (["sampler=euler_maruyama"], "SDE 500 steps logsnr"),
        (
            ["sampler=euler_maruyama", "sampler.euler_maruyama.steps=100", "sampler.euler_maruyama.lam=0.5"],
            "SDE 100 steps logsnr λ=0.5",
        ),
        (["sampler=heun"], "Heun 35 steps karras"),
        (["sampler=dpmpp_2m"], "DPM-Solver++(2M) 40 steps logsnr"),
        (["sampler=dpmpp_3m"], "DPM-Solver++(3M) 20 steps logsnr"),
        (
            ["sampler=dpmpp_3m", "sampler.dpmpp_3m.schedule=karras", "sampler.dpmpp_3m.rho=5"],
            "DPM-Solver++(3M) 20 steps karras ρ=5",
        ),
        (
            ["sampler=dpmpp_2m_sde", "sampler.dpmpp_2m_sde.final_step=none"],
            "SDE-DPM-Solver++(2M) 60 steps logsnr final_step=none",
        ),
    ],
)
def test_sampler_labels_carry_their_settings(overrides, label):
    """Method, steps and a schedule that is not uniform in t, then every value off the sampler's default."""
    (name,) = config_labels(compose_train("problem=tanh", *overrides))[1].values()
    assert name == label


def test_noise_is_shown_in_both_units():
    assert noise_label(0.05, 5.8812) == "noise 5 % (σ_n = 5.88)"
    assert noise_label(0.0, 0.0) == "noise 0 % (σ_n = 0)"
    assert noise_label(0.001, 0.0588) == "noise 0.1 % (σ_n = 0.0588)"
    assert noise_label(0.05) == "noise 5 %"  # a run recorded before σ_n was: the fraction alone


def test_run_label_and_wandb_name():
    samplers = [functools.partial(sample_dpmpp_3m, steps=20), functools.partial(sample_sde, steps=500)]
    label = "tanh · VP-κ=2 · DPM-Solver++(3M) 20 steps logsnr + SDE 500 steps logsnr"  # sde: Euler–Maruyama
    assert run_label("tanh", VPFamily(0.001, 15.0, kappa=2.0), samplers) == label
    register_resolvers()
    kappa = ("formulation=vp_family", "formulation.kappa=2")
    cfg = compose_train("problem=tanh", *kappa, "logger=wandb", "sampler=[dpmpp_3m,euler_maruyama]")
    assert cfg.logger.wandb.name == label


def test_labels_as_file_names():
    assert file_stem("advdiff · VP-κ=2 · DPM-Solver++(3M) 20 steps logsnr") == (
        "advdiff_VP-kappa_2_DPM-Solver_3M_20_steps_logsnr"
    )
    assert (
        file_stem(f"{VE(0.01, 5.0).label} · {VP(0.1, 20.0).label}")
        == "VE_sigma_min_0.01_sigma_max_5_VP_beta_0.1_20"
    )
