"""One model for a range of noise levels (docs/math.md §19; issue 24, item 1): ``data.noise=[low, high]``
trains on a log-uniform level per pair with the level as a network input, the run scores each of
``evaluation.noise_levels`` into ``levels/noise_<level>/`` (one report row per level), and the library
and ``diffinv.infer`` take the readings' level, refusing one outside the range; bad settings are one-line
errors."""

import json

import numpy as np
import pytest
import yaml

from diffinv import load_model, posterior_samples
from diffinv.run.errors import ConfigError
from diffinv.run.validation import validate
from tests.helpers.runs import compose_train, run_module, train

AMORTIZED = ("data.noise=[0.01,0.5]", "evaluation.noise_levels=[0.02,0.3]", "problem.clip=false")


def test_one_run_scores_every_level_and_reports_a_row_per_level(tmp_path):
    run, metrics = train(tmp_path, *AMORTIZED)
    assert metrics["eval/noise_levels"] == 2 and not any(k.endswith("/time/sample_s") for k in metrics)
    for level in (0.02, 0.3):
        where = run / "levels" / f"noise_{level:g}"
        scores = json.loads((where / "metrics.json").read_text())
        assert scores["data/noise"] == level and np.isfinite(scores["ode/exact/std_ratio"])
        config = yaml.safe_load((where / "config.yaml").read_text())
        assert config["data"]["noise"] == level and config["data"]["trained_noise"] == [0.01, 0.5]
        assert (where / "figures" / "flux_cases_ode.png").is_file() and (where / "samples.h5").is_file()
    report = run_module("diffinv.report", str(run), "--out", str(tmp_path / "report")).stdout
    assert "noise 2 % (σ_n" in report and "noise 30 % (σ_n" in report

    model = load_model(run / "checkpoints" / "final.ckpt")
    assert model.noise_range == (0.01, 0.5) and model.noise_dim == 1
    readings = np.ones((1, 30))
    x = posterior_samples(model, readings, n_samples=8, noise=0.1)
    assert x.shape == (1, 8, 30) and np.isfinite(x).all()
    unit = model.noise_unit
    np.testing.assert_allclose(
        posterior_samples(model, readings, 8, noise_std=0.1 * unit), x
    )  # the same level
    four = posterior_samples(model, np.ones((4, 30)), 8, noise=0.2, repeats=4)  # their mean at 0.2/√4 = 0.1
    np.testing.assert_array_equal(four, x)
    with pytest.raises(ValueError, match=r"level 0.0075 lie outside the range"):  # 0.015 / √4
        posterior_samples(model, np.ones((4, 30)), 8, noise=0.015, repeats=4)
    for kwargs, message in (
        ({}, r"trained over data.noise=\[0.01, 0.5\]; give the readings' level"),
        ({"noise": 0.7}, r"outside the range the model was trained on, \[0.01, 0.5\]"),
        ({"noise": 0.1, "noise_std": 1.0}, "not both"),
    ):
        with pytest.raises(ValueError, match=message):
            posterior_samples(model, readings, 8, **kwargs)
    csv = tmp_path / "readings.csv"
    csv.write_text(",".join(["1.0"] * 30) + "\n")
    ckpt = f"ckpt={run / 'checkpoints' / 'final.ckpt'}"
    run_module(
        "diffinv.infer",
        ckpt,
        f"measurement={csv}",
        "noise=0.1",
        "n_samples=8",
        f"hydra.run.dir={tmp_path / 'inf'}",
    )
    summary = json.loads((tmp_path / "inf" / "summary.json").read_text())
    assert summary["readings_noise"] == 0.1


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["data.noise=[0.01,0.5]"], "evaluation.noise_levels: a model trained over data.noise=[0.01, 0.5]"),
        (["data.noise=[0.01,0.5]", "evaluation.noise_levels=[0.6]"], "[0.6] outside the trained range"),
        (["data.noise=[0.5,0.01]", "evaluation.noise_levels=[0.1]"], "need 0 < low < high"),
        (["data.noise=0.05", "evaluation.noise_levels=[0.1]"], "is scored at that level only"),
    ],
)
def test_bad_ranges_and_levels_are_refused_naming_the_key(overrides, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        validate(compose_train("problem=advdiff", *overrides))
