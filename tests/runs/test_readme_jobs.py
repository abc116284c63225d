"""Every command of the README's Jobs table runs from a fresh clone, as written, at tiny settings.

The table is read from README.md, and a row these tests do not know fails: the tests follow the README. Each
command runs in this process (:func:`tests.helpers.runs.run_main`) with overrides appended that make it tiny
(a coarse mesh, few pairs, one epoch, few samples) and put its files under a temporary root; a later value of
a key wins, so the README's own values stay on the command line. Placeholders (``<run>``, ``readings.csv``
…) become the files of the rows before. Not run here, and why: the paper experiments (sweeps of 6 to 14 runs:
every swept value composes and passes the start-up checks) and the cluster row (no SLURM, one CPU device: it
composes; tests/runs/test_cluster.py runs the same launcher code through ``submitit_local``, and DDP on two
CPU processes).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import h5py
import numpy as np
import pytest

import data_gen.__main__ as data_gen_cli
from diffinv import evaluate, infer, report, train
from diffinv.run.validation import validate
from tests.helpers.runs import compose_train, readme_section, run_main

MAINS = {
    "diffinv.train": train.main,
    "diffinv.evaluate": evaluate.main,
    "diffinv.infer": infer.main,
    "data_gen": data_gen_cli.main,
}
TINY_DATA = ("problem.mesh=85x20", "problem.n_train=1000", "problem.n_test=20")  # seconds to generate
TINY_FLUX = ("debug=fast", "trainer.max_epochs=1", "evaluation.n_samples=20", "problem.evaluator.n_test=4")
TINY_DENSITY = (
    "debug=fast",
    "trainer.max_epochs=1",
    "evaluation.n_samples=50",
    "problem.evaluator.exact_sinkhorn=false",
)


def readme_jobs() -> dict[str, list[str]]:
    """The README's Jobs table: job -> the backticked commands and words of its row."""
    rows = [
        line.strip("|").split(" | ", 1)
        for line in readme_section("Jobs").splitlines()
        if line.startswith("| ")
    ]
    return {job.strip(): re.findall(r"`([^`]+)`", cell) for job, cell in rows[2:]}  # after header, rule


JOBS = readme_jobs()


def job(name: str) -> list[str]:
    assert name in JOBS, f"the README's Jobs table has no row '{name}' any more: update this test"
    return JOBS[name]


def run(command: str, *tiny: str, **placeholders: str):
    """``command`` as the README writes it (``python -m <module> ...``, placeholders filled), then ``tiny``"""
    for placeholder, value in placeholders.items():
        command = command.replace(placeholder, value)
    python, flag, module, *args = shlex.split(command)
    assert (python, flag) == ("python", "-m"), command
    if module == "diffinv.report":
        return report.main([*args, *tiny])
    return run_main(MAINS[module], *args, *tiny)


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("clone")


def paths(root: Path, run_dir: str = "") -> tuple[str, ...]:
    where = (f"paths.root_dir={root}", f"paths.data_dir={root / 'data'}")
    return (*where, f"hydra.run.dir={root / run_dir}") if run_dir else where


def test_every_row_is_tested():
    tested = {
        "train, sample, score (any problem)",
        "sweep noise levels × formulations",
        "sweep κ of the VP family (or any value)",
        "a paper experiment",
        "the paper's own recipe",
        "re-sample a trained run",
        "posteriors for your readings",
        "report a run or a sweep",
        "generate a FEniCSx dataset",
        "continue a stopped run",
        "on a cluster",
    }
    assert set(JOBS) == tested


@pytest.mark.fem
def test_the_first_job_without_its_data_says_how_to_make_it_and_leaves_no_run_directory(tmp_path, capsys):
    train_command, make_data = job("train, sample, score (any problem)")
    with pytest.raises(SystemExit) as stopped:
        run(train_command, *TINY_FLUX, *paths(tmp_path, "run"))
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert f"does not exist; make it with: {make_data} " in err, err
    assert not (tmp_path / "run").exists()


@pytest.fixture(scope="module")
def advdiff_data(root) -> Path:
    """The "generate a FEniCSx dataset" row, as the first row says to run it first."""
    make_data = job("train, sample, score (any problem)")[1]
    assert make_data == job("generate a FEniCSx dataset")[0]
    run(make_data, *TINY_DATA, *paths(root))
    return root / "data" / "advdiff.h5"


@pytest.fixture(scope="module")
def advdiff_run(root, advdiff_data) -> Path:
    run(job("train, sample, score (any problem)")[0], *TINY_FLUX, *paths(root, "run"))
    return root / "run"


@pytest.mark.fem
def test_generate_then_train_sample_score(advdiff_data, advdiff_run):
    with h5py.File(advdiff_data) as f:
        assert f["train/x"].shape == (1000, 30) and f["test/y_clean"].shape == (20, 30)
    assert (advdiff_run / "metrics.json").is_file() and (advdiff_run / "checkpoints" / "final.ckpt").is_file()
    assert "kappa: 2" in (advdiff_run / "config.yaml").read_text()


@pytest.mark.fem
def test_the_other_flux_datasets_compose():
    for problem in job("generate a FEniCSx dataset")[1:]:
        run_main(data_gen_cli.main, f"problem={problem}", "--cfg", "job")  # composes, generates nothing


@pytest.mark.fem
def test_the_paper_recipe_and_resume_rows_run_the_first_row_again(root, advdiff_run, capsys):
    first = job("train, sample, score (any problem)")[0]
    (paper,) = job("the paper's own recipe")
    run(first, paper, *TINY_FLUX, *paths(root, "paper"))
    assert (root / "paper" / "metrics.json").is_file()
    assert "t_sampling: uniform" in (root / "paper" / "config.yaml").read_text()  # the paper's loss
    (resume,) = job("continue a stopped run")
    run(first, resume.replace("<its directory>", str(advdiff_run)), *TINY_FLUX, *paths(root))
    assert "is complete (metrics.json exists); nothing to do" in capsys.readouterr().out


@pytest.mark.fem
def test_resample_infer_and_report(root, advdiff_run, advdiff_data):
    (resample,) = job("re-sample a trained run")
    run(
        resample,
        "evaluation.n_samples=20",
        "evaluator.n_test=4",
        f"hydra.run.dir={root / 'eval'}",
        **{"<run>": str(advdiff_run)},
    )
    assert (root / "eval" / "metrics.json").is_file()
    with h5py.File(advdiff_data) as f:
        np.savetxt(root / "readings.csv", f["test/y_clean"][:2], delimiter=",")
    (posteriors,) = job("posteriors for your readings")
    run(
        posteriors,
        "n_samples=20",
        f"hydra.run.dir={root / 'infer'}",
        **{"<run>": str(advdiff_run), "readings.csv": str(root / "readings.csv")},
    )
    assert (root / "infer" / "samples.h5").is_file()
    (report_command,) = job("report a run or a sweep")
    run(report_command, **{"<run or multirun dir>": str(advdiff_run), "<dir>": str(root / "report")})
    assert (root / "report" / "report.md").is_file()


@pytest.mark.fem
def test_the_noise_by_formulation_sweep(root, advdiff_data):
    (sweep,) = job("sweep noise levels × formulations")
    run(sweep, *TINY_FLUX, *paths(root), f"hydra.sweep.dir={root / 'noise_sweep'}")
    assert len(list((root / "noise_sweep").glob("*/metrics.json"))) == 6


def test_the_kappa_sweep(root):
    (sweep,) = job("sweep κ of the VP family (or any value)")
    run(sweep, *TINY_DENSITY, *paths(root), f"hydra.sweep.dir={root / 'kappa_sweep'}")
    assert len(list((root / "kappa_sweep").glob("*/metrics.json"))) == 3


def test_the_paper_experiments_compose_and_validate():
    """Not run: each is a sweep of 6 (table2) to 14 runs, ~40 s even at tiny sizes, of the code the sweep rows
    above run. Every value of each swept key composes in a job that passes the start-up checks."""
    table2, *others = job("a paper experiment")
    for experiment in [shlex.split(table2)[-1].removeprefix("experiment="), *others]:
        sweep = compose_train(f"experiment={experiment}", hydra_config=True).hydra.sweeper.params
        values = [str(v).split(",") for v in sweep.values()]
        for i in range(max(map(len, values))):
            job_values = (f"{key}={v[i % len(v)]}" for key, v in zip(sweep, values, strict=True))
            validate(compose_train(f"experiment={experiment}", *job_values))


def test_the_cluster_row_composes():
    launcher, ddp = job("on a cluster")
    first = shlex.split(job("train, sample, score (any problem)")[0])[3:]
    assert launcher.startswith("... -m ")
    cfg = compose_train(*first, *launcher.split()[2:], hydra_config=True)
    assert cfg.hydra.launcher._target_.endswith("SlurmLauncher")
    cfg = compose_train(*first, *ddp.split())
    validate(cfg)
    assert cfg.trainer.strategy == "ddp" and cfg.trainer.devices == 4
