"""``python -m diffinv.design`` (docs/usage.md §19, docs/math.md §20; issue 24, item 3) end to end on a real,
tiny mask-conditioned model of the linear–Gaussian variant: the ranked sensors (counted from 1, among the
candidates, none of the fixed), their estimated gains with Monte-Carlo errors, the closed-form check, the
CSV and the figure; an interrupted design continues; bad input is a one-line error naming the key. How well
the estimates match the closed forms is measured on a trained model in experiments/noise_amortized."""

import json

import h5py
import numpy as np
import pytest

from diffinv import design as design_cli
from diffinv import evaluate
from tests.helpers.runs import make_data, run_main, run_module, train

pytestmark = pytest.mark.fem


@pytest.fixture(scope="module")
def masked_model(tmp_path_factory):
    root = tmp_path_factory.mktemp("design")
    data = ("problem=advdiff_design", "problem.clip=false")
    make_data(root / "data", *data, "problem.n_train=1000", "problem.n_test=40")
    run, _ = train(
        root, *data, "data.noise=[0.01,0.5]", "evaluation.noise_levels=[0.05]", "problem.evaluator.n_test=2"
    )
    return root, run / "checkpoints" / "final.ckpt"


def design(out, ckpt, *overrides):
    return run_module("diffinv.design", f"ckpt={ckpt}", f"hydra.run.dir={out}", *overrides)


SMALL = ("noise=0.05", "n_draws=4", "n_samples=40")


def test_design_ranks_sensors_and_compares_them_with_the_closed_form(masked_model):
    root, ckpt = masked_model
    out = root / "chosen"
    args = (*SMALL, "k=2", "candidates=[1,2,3,4,5,6,7,8]", "fixed=[8]", "check_layouts=2")
    console = design(out, ckpt, *args).stdout
    record = json.loads((out / "design.json").read_text())
    ranked = record["ranked"]
    assert [r["rank"] for r in ranked] == [1, 2]
    assert all(1 <= r["sensor"] <= 7 for r in ranked) and len({r["sensor"] for r in ranked}) == 2
    assert all(np.isfinite(r["gain"]) and r["error"] > 0 for r in ranked)
    assert record["fixed"] == [8] and record["noise"] == 0.05 and record["layouts_scored"] == 7 + 6
    exact = record["exact"]  # the file is linear–Gaussian: the closed forms come along
    assert len(exact["greedy_exact_gains"]) == 2 and len(exact["exact_greedy_sensors"]) == 2
    assert 8 not in exact["exact_greedy_sensors"] and exact["greedy_exact_gains"][1] > 0
    assert len(exact["random_layouts"]) == 2
    assert all(5 <= len(r["sensors"]) <= 7 for r in exact["random_layouts"])
    assert "exact greedy layout" in console and "random layouts" in console
    csv = (out / "design.csv").read_text().splitlines()
    assert csv[0] == "rank,sensor,coord0,coord1,gain,error" and len(csv) == 3
    assert (out / "figures" / "design.png").is_file()

    resumed = design(out, ckpt, *args, f"resume={out}")  # finished steps are kept, not redone
    assert "resume: 2 of 2 steps done" in resumed.stderr + resumed.stdout
    assert json.loads((out / "design.json").read_text())["ranked"] == ranked


def test_evaluate_scores_the_same_states_under_the_paper_s_masks(masked_model):
    """diffinv.evaluate data_file=: the same training pairs (same seed: same states and readings) with
    Bernoulli(0.7) test masks, how the design model's cost on the many-operator problem is measured; a file
    of other pairs is refused naming the statistics."""
    root, ckpt = masked_model
    other = make_data(
        root / "data",
        "problem=advdiff_multiop",
        "problem.clip=false",
        "problem.n_train=1000",
        "problem.n_test=40",
    )
    path = root / "data" / "advdiff_multiop_noclip.h5"
    out = root / "paper_masks"
    run_module("diffinv.evaluate", f"ckpt={ckpt}", f"data_file={path}", f"hydra.run.dir={out}", timeout=600)
    metrics = json.loads((out / "levels" / "noise_0.05" / "metrics.json").read_text())
    assert np.isfinite(metrics["ode/exact/std_ratio"])
    with h5py.File(out / "levels" / "noise_0.05" / "samples.h5") as f:
        np.testing.assert_array_equal(f["mask"][()], other.test.mask[:2])
    fewer = make_data(root / "fewer", "problem=advdiff_multiop", "problem.clip=false", "problem.n_train=500")
    assert len(fewer.train) == 500
    with pytest.raises(SystemExit):
        run_main(
            evaluate.main,
            f"ckpt={ckpt}",
            f"data_file={root / 'fewer' / 'advdiff_multiop_noclip.h5'}",
            f"hydra.run.dir={root / 'refused'}",
        )
    assert not (root / "refused").exists()


def test_a_model_without_masks_is_refused(masked_model, tmp_path, capsys):
    root, _ = masked_model
    make_data(root / "plain", "problem=advdiff", "problem.n_train=1000", "problem.n_test=20")
    run, _ = train(tmp_path, "problem=advdiff", "data.noise=0.05", f"paths.data_dir={root / 'plain'}")
    with pytest.raises(SystemExit):
        run_main(
            design_cli.main, f"ckpt={run / 'checkpoints' / 'final.ckpt'}", f"hydra.run.dir={tmp_path / 'out'}"
        )
    assert "was trained with every sensor on; choosing sensors needs a model trained with sensor masks" in (
        capsys.readouterr().err
    )
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (("k=31",), "k=31: between 1 and the 30 free candidates"),
        (("k=2", "fixed=[31]"), "fixed=[31]: distinct sensor numbers from 1 to 30"),
        (("k=2", "candidates=[1,1]"), "candidates=[1, 1]: distinct sensor numbers"),
        (("k=2", "criterion=entropy"), "criterion='entropy'"),
        (("k=2", "n_draws=100"), "n_draws=100: between 2 and the 40 test pairs"),
    ],
)
def test_bad_input_is_one_line_naming_the_key(masked_model, overrides, message, tmp_path, capsys):
    _, ckpt = masked_model
    with pytest.raises(SystemExit) as stopped:
        run_main(
            design_cli.main, f"ckpt={ckpt}", f"hydra.run.dir={tmp_path / 'out'}", "noise=0.05", *overrides
        )
    assert stopped.value.code not in (0, None)
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # nothing written
