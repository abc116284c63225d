"""The fast-sampler and EDM-model config choices compose, pass start-up validation (each sampler is dry-run
with a zero score on x_T of shape (1, 1)) and build what they name (docs/math.md §12–13)."""

import pytest
from hydra.utils import instantiate

from diffinv.core import samplers
from diffinv.core.precondition import EDMPrecond
from diffinv.run.validation import validate
from tests.helpers.runs import compose_train

FAST = ["heun", "dpmpp_2m", "dpmpp_3m", "dpmpp_2m_sde"]


@pytest.mark.parametrize(
    "overrides",
    [[f"sampler={name}"] for name in FAST]
    + [["sampler=[ode,heun]"], ["sampler=[sde,dpmpp_3m,dpmpp_2m_sde]"],
       ["sampler=dpmpp_3m", "sampler.dpmpp_3m.schedule=karras", "formulation=vp_family",
        "formulation.kappa=0.5"],
       ["sampler=heun", "sampler.heun.schedule=uniform", "formulation=vp"],
       ["model=edm"], ["model=edm", "formulation=vp", "sampler=[ode,dpmpp_2m]"]],
    ids=lambda o: " ".join(o),
)  # fmt: skip
def test_fast_choices_compose_and_validate(overrides):
    cfg = compose_train(*overrides)
    validate(cfg)
    for node in cfg.sampler.values():
        assert instantiate(node).func is getattr(samplers, node._target_.rsplit(".", 1)[1])
    cfg.loss.sigma_data = 0.26  # what the run measures for sigma_data: auto (docs/math.md §15.2)
    cfg.problem.x_dim, cfg.problem.y_dim, cfg.problem.mask_dim = 30, 30, 0  # read from the data file by a run
    network = instantiate(cfg.model)
    assert network.x_dim == 30
    if "model=edm" in overrides:
        assert isinstance(network, EDMPrecond) and network.formulation.__class__.__name__ in ("VE", "VP")


def test_ode_and_sde_select_the_measured_best_and_recipe_paper_the_papers():
    """docs/math.md §15.4: ``ode`` is DPM-Solver++(3M) at 20 calls, ``sde`` SDE-DPM-Solver++(2M) at 40, keys
    ``ode/``, ``sde/``; each solver also by its own name; ``recipe=paper`` gives the paper's rk45 and
    Euler–Maruyama samplers with its network, loss, constant learning rate and no EMA (docs/usage.md §14)."""
    default = compose_train()
    assert list(default.sampler) == ["ode", "sde"]
    assert default.sampler.ode._target_ == "diffinv.core.samplers.sample_dpmpp_3m"
    assert default.sampler.ode.steps == 20 and default.sampler.ode.schedule == "logsnr"
    assert default.sampler.sde._target_ == "diffinv.core.samplers.sample_dpmpp_2m_sde"
    assert default.sampler.sde.steps == 40 and default.sampler.sde.lam == 1.0
    assert compose_train("sampler=dpmpp_3m").sampler.dpmpp_3m == default.sampler.ode
    assert default.model._target_ == "diffinv.core.precondition.EDMPrecond"
    loss = default.loss
    assert (loss.t_sampling, loss.weighting, loss.sigma_data) == ("lognormal", "edm", "auto")
    assert default.lr_scheduler is not None and "ema" not in default.callbacks  # the short demo: no EMA
    assert "ema" in compose_train("problem=advdiff").callbacks
    paper = compose_train("recipe=paper")
    assert list(paper.sampler) == ["rk45", "euler_maruyama"]
    assert paper.sampler.rk45._target_ == "diffinv.core.samplers.sample_ode"
    assert paper.sampler.rk45.method == "rk45"
    assert paper.sampler.euler_maruyama._target_ == "diffinv.core.samplers.sample_sde"
    assert paper.model._target_ == "diffinv.core.networks.ScoreMLP"
    assert (paper.loss.t_sampling, paper.loss.weighting, paper.optimizer.lr) == ("uniform", "none", 1e-3)
    assert "ema" not in paper.callbacks and paper.get("lr_scheduler") is None
    assert list(compose_train("recipe=paper", "sampler=ode").sampler) == ["ode"]  # the command line wins


@pytest.mark.parametrize(
    "overrides, key",
    [(["sampler=heun", "sampler.heun.steps=0"], "sampler.heun.steps"),
     (["sampler=dpmpp_3m", "sampler.dpmpp_3m.schedule=cosine"], "sampler.dpmpp_3m.schedule"),
     (["sampler=dpmpp_2m_sde", "sampler.dpmpp_2m_sde.lam=-1"], "sampler.dpmpp_2m_sde.lam"),
     (["sampler=dpmpp_2m", "sampler.dpmpp_2m.solver_type=rk4"], "sampler.dpmpp_2m.solver_type"),
     (["formulation=vp_family", "formulation.kappa=0.05"], "formulation.kappa"),
     (["model=edm", "model.sigma_data=0"], "model.sigma_data")],
)  # fmt: skip
def test_bad_values_name_their_key(overrides, key):
    from diffinv.run.errors import ConfigError

    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        validate(compose_train(*overrides))
