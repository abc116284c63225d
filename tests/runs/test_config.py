"""Every config group composes (Hydra compose API) and invalid values fail at start-up naming the key."""

import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from diffinv.run.errors import ConfigError
from diffinv.run.validation import validate
from tests.helpers.runs import compose_train, run_module

GROUP_CHOICES = [
    ["formulation=ve"],
    ["formulation=vp"],
    ["formulation=vp_family", "formulation.kappa=0.5"],
    ["sampler=ode"],
    ["sampler=sde"],
    ["sampler=[ode,sde]"],
    ["sampler=rk45", "sampler.rk45.rtol=1e-4"],
    ["sampler=heun", "sampler.heun.steps=20"],
    ["sampler=[rk45,euler_maruyama]"],
    ["recipe=paper"],
    ["problem=tanh"],
    ["problem=bimodal"],
    ["problem=spiral"],
    ["trainer=cpu"],
    ["trainer=gpu"],
    ["trainer=ddp"],
    ["logger=csv"],
    ["logger=tensorboard"],
    ["logger=wandb"],
    ["logger=[csv,wandb]"],
    ["callbacks=default"],
    ["callbacks=[default,ema]"],
    ["debug=fast"],
    ["experiment=table2"],
    ["hydra/launcher=joblib"],
    ["hydra/launcher=submitit_local"],
    ["hydra/launcher=submitit_slurm"],
]


def density(overrides):
    """``overrides`` on the 2-D density problem tanh (the default is the flux demo) unless they name one."""
    return (
        overrides
        if any(o.startswith(("problem=", "experiment=")) for o in overrides)
        else ["problem=tanh", *overrides]
    )


@pytest.mark.parametrize("overrides", GROUP_CHOICES, ids=lambda o: " ".join(o))
def test_every_group_composes_and_validates(overrides):
    overrides = density(overrides)
    cfg = compose_train(*overrides, hydra_config=any(o.startswith("hydra/") for o in overrides))
    validate(cfg)
    assert cfg.sampler and cfg.formulation._target_.startswith("diffinv.core.formulations.")
    cfg.loss.sigma_data = 0.5  # what the run measures for sigma_data: auto (docs/math.md §15.2)
    cfg.problem.x_dim, cfg.problem.y_dim, cfg.problem.mask_dim = 1, 1, 0  # read from the data file by a run
    network = instantiate(cfg.model)
    assert network.x_dim == 1


def test_the_default_is_the_flux_demo(tmp_path):
    """A bare ``python -m diffinv.train`` (``make demo``): the linear boundary-flux problem, its data made on
    first use from the advdiff recipe on a coarse mesh; ``problem=advdiff`` keeps the paper-size file."""
    from diffinv.data.source import dataset_path

    cfg = compose_train(f"paths.root_dir={tmp_path}", hydra_config=True)
    validate(cfg)
    assert cfg.hydra.runtime.choices.problem == "advdiff_demo" and cfg.problem.name == "advdiff"
    assert cfg.problem.data_file is None and cfg.problem.dataset.generator == "advdiff"
    assert cfg.problem.dataset.overrides.problem.mesh == "170x40"
    assert (cfg.model.net.x_dim, cfg.model.net.depth) == (None, 4)  # x_dim: from the data file
    assert list(cfg.sampler) == ["ode", "sde"] and cfg.data.noise == 0.05
    assert (cfg.problem.evaluator.n_test, cfg.evaluation.n_samples, cfg.trainer.max_epochs) == (100, 200, 400)
    assert dataset_path(cfg).parent == tmp_path / "data" and dataset_path(cfg).name.startswith("advdiff-")
    paper = compose_train("problem=advdiff", f"paths.root_dir={tmp_path}")
    assert paper.problem.data_file == f"{tmp_path}/data/advdiff.h5" and paper.data.noise == 0.0
    assert paper.trainer.max_epochs == 200 and list(paper.sampler) == ["ode", "sde"]
    fast = compose_train("debug=fast")  # a smoke run of the demo: the 20-call ODE, tiny data
    validate(fast)
    assert list(fast.sampler) == ["ode"] and fast.problem.dataset.overrides.problem.n_train == 2000


def test_formulation_brings_its_schedule():
    assert compose_train(*density(["formulation=ve"])).schedule.kind == "geometric"
    vp = compose_train(*density(["formulation=vp"]))
    assert vp.schedule.kind == "linear" and instantiate(vp.formulation).beta_max == 15.0


def test_table2_experiment_has_paper_settings():
    cfg = compose_train("experiment=table2", hydra_config=True)
    assert set(cfg.sampler) == {"ode", "sde"}
    assert cfg.trainer.max_epochs == 10_000 and cfg.data.batch_size == 1000 and cfg.model.net.depth == 2
    assert cfg.evaluation.n_samples == 10_000
    assert cfg.callbacks.ema.decay == 0.999  # the default recipe's (docs/math.md §15)
    paper = compose_train("experiment=table2", "recipe=paper")
    assert list(paper.sampler) == ["rk45", "euler_maruyama"] and paper.model.depth == 2
    assert cfg.schedule.sigma_min == 0.001 and cfg.schedule.sigma_max == 12.0
    assert cfg.hydra.sweeper.params.formulation == "ve,vp"
    assert cfg.hydra.launcher._target_.endswith("JoblibLauncher")


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        (["formulation=vp_family", "formulation.kappa=-1"], "formulation.kappa"),
        (["schedule.sigma_min=20"], "formulation.sigma_min"),
        (["formulation=ve", "schedule=linear"], "schedule"),
        (["sampler=rk45", "sampler.rk45.method=rk99"], "sampler.rk45.method"),
        (["sampler=rk45", "sampler.rk45.method=euler"], "sampler.rk45.method"),
        (["sampler=sde", "sampler.sde.lam=-1"], "sampler.sde.lam"),
        (["sampler=sde", "sampler.sde.steps=0"], "sampler.sde.steps"),
        (["sampler=euler_maruyama", "sampler.euler_maruyama.steps=0"], "sampler.euler_maruyama.steps"),
        (["sampler=sde", "+sampler.ode.steps=5"], "sampler.ode"),  # set for a sampler not selected
        (["data.noise=-0.1"], "data.noise"),
        (["problem=bimodal", "data.noise=0.05"], "data.noise"),  # scored against clean-y bands
        (["data.normalisation=zscore"], "data.normalisation"),
        (["data.batch_size=0"], "data.batch_size"),
        (["evaluation.chunk_size=0"], "evaluation.chunk_size"),
        (["problem=advdiff", "problem.evaluator.n_test=0"], "problem.evaluator.n_test"),
        (["problem.evaluator.band_halfwidth=0"], "problem.evaluator.band_halfwidth"),
        (["problem.evaluator.sinkhorn_tol=-1"], "problem.evaluator.sinkhorn_tol"),
        (["optimizer.lr=0"], "optimizer.lr"),
        (["loss.t_sampling=beta"], "loss.t_sampling"),
        (["loss.p_std=0"], "loss.p_std"),
        (["model=mlp", "model.width=0"], "model.width"),
        (["model=mlp", "problem.network_depth=0"], "model.depth"),
        (["loss.sigma_data=-1"], "loss.sigma_data"),
    ],
)
def test_invalid_value_fails_naming_the_key(overrides, key):
    cfg = compose_train(*density(overrides))
    with pytest.raises(ConfigError) as info:
        validate(cfg)
    assert str(info.value).startswith(f"{key}:"), str(info.value)


def test_paths_resolve_under_root(tmp_path):
    cfg = compose_train(f"paths.root_dir={tmp_path}")
    assert OmegaConf.select(cfg, "paths.data_dir") == f"{tmp_path}/data"


def test_generated_data_is_named_by_the_whole_recipe(tmp_path):
    """One recipe per dataset (data_gen/conf/problem/*.yaml); the file name is keyed by all of it, so a
    change of any value (here: debug=fast's smaller data, another data seed) names another file."""
    from diffinv.data.source import dataset_path

    root = f"paths.root_dir={tmp_path}"
    default = dataset_path(compose_train("problem=tanh", root))
    assert default.parent == tmp_path / "data" and default.name.startswith("tanh-")
    fast = dataset_path(compose_train("problem=tanh", "debug=fast", root))
    other_seed = dataset_path(compose_train("problem=tanh", "+problem.dataset.overrides.seed=1", root))
    assert len({default, fast, other_seed}) == 3
    assert dataset_path(compose_train("problem=tanh", root)) == default
    given = compose_train("problem=tanh", f"problem.data_file={tmp_path}/mine.h5")
    assert dataset_path(given) == tmp_path / "mine.h5"


def test_help_lists_the_training_groups_only():
    """The data-generation tree lives in the data_gen package, not among the training config groups."""
    result = run_module("diffinv.train", "--help")
    groups = result.stdout.split("== Config ==")[0]
    assert "problem: " in groups and "data_gen" not in groups


def test_the_edm_recipe_composes_and_its_loss_options_reach_the_module():
    """model=edm (docs/math.md §13) with EDM's training law of sigma and loss weight: the module trains with
    exactly the configured dsm_loss keywords."""
    import torch

    from diffinv.core.losses import dsm_loss
    from diffinv.training.module import build_module

    cfg = compose_train(
        "problem=tanh",
        "model=edm",
        "loss.t_sampling=lognormal",
        "loss.weighting=edm",
        "loss.sigma_data=0.5",
        "problem.x_dim=1",
        "problem.y_dim=1",
        "problem.mask_dim=0",  # a run reads them from its data file
    )
    validate(cfg)
    module = build_module(cfg)
    assert module.loss_options == {
        "t_sampling": "lognormal",
        "p_mean": -1.2,
        "p_std": 1.2,
        "weighting": "edm",
        "sigma_data": 0.5,
    }
    x, y = torch.randn(8, 1), torch.randn(8, 1)
    gen = torch.Generator().manual_seed(0)
    loss = dsm_loss(module.network, module.formulation, x, y, None, gen, **module.loss_options)
    assert torch.isfinite(loss) and loss > 0


def test_the_residual_network_composes_behind_the_preconditioning():
    """model=resmlp (docs/math.md §7.5): EDMPrecond around ScoreResMLP, sized from the problem (an amortized
    model's noise input is one more entry of y), its options from conf/model/resmlp.yaml."""
    from diffinv.core.networks import ScoreResMLP
    from diffinv.core.precondition import EDMPrecond
    from diffinv.training.module import build_module

    cfg = compose_train(
        "problem=advdiff_design",
        "model=resmlp",
        "loss.sigma_data=0.5",
        "problem.x_dim=30",
        "problem.y_dim=31",
        "problem.mask_dim=30",  # a run reads them from its data file
    )
    validate(cfg)
    network = build_module(cfg).network
    assert isinstance(network, EDMPrecond) and isinstance(network.net, ScoreResMLP)
    assert (network.net.x_dim, network.net.y_dim, network.net.mask_dim) == (30, 31, 30)
    assert len(network.net.blocks) == cfg.model.net.depth == 2
