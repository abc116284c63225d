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
    network = instantiate(cfg.model)
    assert network.x_dim == cfg.problem.x_dim
    if "model=edm" in overrides:
        assert isinstance(network, EDMPrecond) and network.formulation.__class__.__name__ in ("VE", "VP")


def test_ode_and_sde_still_select_the_paper_samplers():
    assert compose_train("sampler=ode").sampler.ode._target_ == "diffinv.core.samplers.sample_ode"
    assert compose_train("sampler=sde").sampler.sde._target_ == "diffinv.core.samplers.sample_sde"


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
