"""``python -m diffinv.report`` on sweeps (docs/usage.md §3, docs/problems.md §5): a real κ sweep gives one
labelled row per κ; a sweep over a sampler setting or any other value gives labelled rows too, never a
crash; bad input is one line and exit status 2, as for every entry point."""

import json
import shutil

import pytest
import yaml

from diffinv.report import main, report
from tests.helpers.runs import run_module


@pytest.fixture(scope="module")
def kappa_sweep(tmp_path_factory):
    """``python -m diffinv.train -m formulation=vp_family formulation.kappa=0.5,2`` at test size."""
    root = tmp_path_factory.mktemp("kappa")
    sweep = root / "sweep"
    run_module(
        "diffinv.train",
        "-m",
        "debug=fast",
        "problem=tanh",
        "formulation=vp_family",
        "formulation.kappa=0.5,2",
        "evaluation.n_samples=100",
        "problem.evaluator.exact_sinkhorn=false",
        f"paths.root_dir={root}",
        f"hydra.sweep.dir={sweep}",
    )
    return sweep


def test_a_kappa_sweep_is_reported_with_one_row_per_kappa(kappa_sweep, tmp_path):
    result = run_module("diffinv.report", str(kappa_sweep), "--out", str(tmp_path))
    text = result.stdout
    for run, kappa in (("0", "0.5"), ("1", "2")):
        metrics = json.loads((kappa_sweep / run / "metrics.json").read_text())
        cell = f"{metrics['ode/sinkhorn/mean']:.4f} (floor {metrics['sinkhorn_floor/mean']:.4f}"
        assert f"| VP-κ={kappa} | DPM-Solver++(3M) 20 steps logsnr | {cell}" in text
    assert "settings" not in text  # κ is in the label: nothing else differs
    assert (tmp_path / "report.md").read_text() == text.removesuffix(
        f"\n\nwritten: {tmp_path}/report.md\n"
    ) + "\n"


def copy_run(run, to, **changes):
    """A copy of ``run`` whose config.yaml has ``changes`` (dotted keys) applied."""
    shutil.copytree(run, to)
    config = yaml.safe_load((to / "config.yaml").read_text())
    for dotted, value in changes.items():
        *parents, key = dotted.split(".")
        node = config
        for parent in parents:
            node = node[parent]
        node[key] = value
    (to / "config.yaml").write_text(yaml.safe_dump(config, allow_unicode=True))


def test_a_sweep_over_a_sampler_setting_or_any_value_gives_labelled_rows(kappa_sweep, tmp_path):
    """Runs of one κ that differ in the ODE's steps, in the learning rate, or in nothing (two runs of one
    setting): one row each, labelled by the sampler, a settings column and the run's directory name."""
    run = kappa_sweep / "0"
    sweep = tmp_path / "sweep"
    copy_run(run, sweep / "a")
    copy_run(run, sweep / "b", **{"sampler.ode.steps": 15})
    copy_run(run, sweep / "c", **{"optimizer.lr": 1e-4})
    copy_run(run, sweep / "d")
    text = report(sweep, tmp_path / "out")
    table = text.split("\n\n")[2].splitlines()
    assert table[0] == "| formulation | sampler | settings | tanh |"
    labels = [row.split(" | ")[:3] for row in table[2:]]
    ode = "DPM-Solver++(3M) 20 steps logsnr"
    assert labels == [
        ["| VP-κ=0.5", "DPM-Solver++(3M) 15 steps logsnr", "optimizer.lr=0.01"],
        ["| VP-κ=0.5", ode, "optimizer.lr=0.0001"],
        ["| VP-κ=0.5", ode, "optimizer.lr=0.01, run a"],
        ["| VP-κ=0.5", ode, "optimizer.lr=0.01, run d"],
    ]
    assert (tmp_path / "out" / "sinkhorn_vs_floor.png").is_file()


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({}, "no run directories (metrics.json + config.yaml) found"),
        ({"metrics.json": "{}", "config.yaml": "a: 1\n"}, "not a diffinv run record (KeyError: 'sampler')"),
        ({"metrics.json": "{", "config.yaml": ""}, "not a diffinv run record (JSONDecodeError: "),
    ],
    ids=["no runs", "not a run's config", "broken metrics"],
)
def test_bad_directories_stop_with_one_line_and_status_2(files, message, tmp_path, capsys):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(SystemExit) as stopped:
        main([str(tmp_path)])
    err = capsys.readouterr().err
    assert stopped.value.code == 2 and err.startswith(f"error: {tmp_path}") and err.count("\n") == 1
    assert message in err


def test_bad_arguments_stop_with_one_line_and_status_2(tmp_path, capsys):
    for argv in ([], [str(tmp_path / "missing")], [str(tmp_path), "--outt", "x"]):
        with pytest.raises(SystemExit) as stopped:
            main(argv)
        err = capsys.readouterr().err
        assert stopped.value.code == 2 and err.startswith("error: ") and err.count("\n") == 1, err
