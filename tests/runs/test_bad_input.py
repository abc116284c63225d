"""Bad input through the real command-line entry points (docs/usage.md §10): each case exits non-zero with
one line naming the file, key or value, no traceback, and leaves the files it was given as they were.

The entry points run in this process (``sys.argv`` + their Hydra ``main``), which costs no interpreter
start per case; their exit status is the ``SystemExit`` they raise."""

import subprocess
import sys

import h5py
import numpy as np
import pytest
import torch

import data_gen.__main__ as data_gen_cli
from data_gen.toy import generate
from diffinv import evaluate, infer, train
from tests.helpers.runs import run_main


def fails(main, *argv: str) -> None:
    """Run an entry point with ``argv``; assert that it exits with a non-zero status."""
    with pytest.raises(SystemExit) as stopped:
        run_main(main, *argv)
    assert stopped.value.code not in (0, None)


@pytest.fixture(scope="module")
def toy_file(tmp_path_factory):
    return generate("tanh", tmp_path_factory.mktemp("data") / "tanh.h5", n_train=2000, n_test=20_000)


@pytest.fixture(scope="module")
def tanh_checkpoint(tmp_path_factory, toy_file):
    run = tmp_path_factory.mktemp("run")
    run_main(
        train.main, "debug=fast", "problem=tanh", f"problem.data_file={toy_file}", f"hydra.run.dir={run}"
    )
    return run / "checkpoints" / "final.ckpt"


CONFIG_CASES = {
    "kappa <= 0": (["formulation=vp_family", "formulation.kappa=0"], "formulation.kappa"),
    "sigma_min >= sigma_max": (["schedule.sigma_min=20"], "sigma_min"),
    "negative noise": (["data.noise=-0.1"], "data.noise: must be >= 0"),
    "noise on a 2-D density": (
        ["problem=tanh", "data.noise=0.05"],
        "data.noise: the 2-D density problem 'tanh' is scored against the bands of its clean y",
    ),
    "unknown sampler": (["sampler=foo"], "Could not find 'sampler/foo'"),
    "negative lambda": (["sampler=sde", "sampler.sde.lam=-1"], "sampler.sde.lam"),
    "zero batch size": (["data.batch_size=0"], "data.batch_size: must be an integer >= 1"),
    "unknown ODE method": (
        ["sampler=rk45", "sampler.rk45.method=rk99"],
        "sampler.rk45.method: unknown ODE method 'rk99'",
    ),
}


@pytest.mark.parametrize("overrides, message", CONFIG_CASES.values(), ids=CONFIG_CASES.keys())
def test_invalid_config_values_name_the_key(overrides, message, tmp_path, capsys):
    overrides = (
        overrides if any(o.startswith("problem=") for o in overrides) else ["problem=tanh", *overrides]
    )
    fails(train.main, *overrides, f"hydra.run.dir={tmp_path / 'run'}")
    err = capsys.readouterr()
    assert message in err.err + err.out
    assert "Traceback" not in err.err
    assert not (tmp_path / "run").exists()  # stopped at start-up: no run directory left behind


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("problem.x_dim=2", "problem.x_dim: 2 given, but the data file "),
        ("problem.y_dim=3", "has 1: set problem.y_dim=1"),
        ("problem.mask_dim=1", "problem.mask_dim: 1 given"),
    ],
)
def test_network_sizes_that_differ_from_the_data_file_name_key_file_and_value(
    override, message, toy_file, tmp_path, capsys
):
    run = tmp_path / "run"
    fails(
        train.main,
        "debug=fast",
        "problem=tanh",
        f"problem.data_file={toy_file}",
        override,
        f"hydra.run.dir={run}",
    )
    err = capsys.readouterr().err
    assert err.startswith("error: problem.") and message in err and str(toy_file) in err
    assert "Traceback" not in err and not run.exists()


def corrupt(kind: str, good, tmp_path):
    """A copy of the good toy file, damaged in one way; returns its path."""
    path = tmp_path / f"{kind}.h5"
    data = good.read_bytes()
    if kind == "garbage":
        path.write_bytes(b"this is not HDF5" * 100)
    elif kind == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif kind == "nan":
        path.write_bytes(data)
        with h5py.File(path, "r+") as f:
            f["train/x"][3, 0] = np.nan
    elif kind == "missing key":
        path.write_bytes(data)
        with h5py.File(path, "r+") as f:
            del f["test/y_clean"]
    return path


DATA_CASES = {
    "missing": "does not exist",
    "garbage": "not a readable HDF5",
    "truncated": "not a readable HDF5",
    "nan": "'train/x' has 1 non-finite",
    "missing key": "test/y_clean",
}


@pytest.mark.parametrize("kind, message", DATA_CASES.items(), ids=DATA_CASES.keys())
def test_bad_data_files_are_named(kind, message, toy_file, tmp_path, capsys):
    path = tmp_path / "absent.h5" if kind == "missing" else corrupt(kind, toy_file, tmp_path)
    before = path.read_bytes() if path.exists() else None
    fails(
        train.main,
        "debug=fast",
        "problem=tanh",
        f"problem.data_file={path}",
        f"hydra.run.dir={tmp_path / 'run'}",
    )
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and str(path) in err
    assert (path.read_bytes() if path.exists() else None) == before
    assert not (tmp_path / "run").exists()


class NotATensor:
    """Anything a pickle could smuggle in; weights_only loading refuses it."""


@pytest.mark.parametrize("kind", ["missing", "garbage", "arbitrary pickle", "foreign checkpoint"])
def test_bad_checkpoints_are_refused_without_unpickling(kind, tmp_path, capsys):
    path = tmp_path / "model.ckpt"
    if kind == "garbage":
        path.write_bytes(b"\x00" * 100)
    elif kind == "arbitrary pickle":
        torch.save({"diffinv": NotATensor()}, path)
    elif kind == "foreign checkpoint":
        torch.save({"state_dict": {"w": torch.zeros(2)}}, path)
    fails(evaluate.main, f"ckpt={path}", f"hydra.run.dir={tmp_path / 'eval'}")
    err = capsys.readouterr().err
    expected = {
        "missing": "does not exist",
        "garbage": "is not a readable diffinv checkpoint (not a torch checkpoint file)",
        "arbitrary pickle": f"holds a {__name__}.NotATensor object; only tensors and plain containers",
        "foreign checkpoint": "was not written by diffinv.train",
    }[kind]
    assert err.startswith(f"error: ckpt: {path}") and expected in err
    assert not (tmp_path / "eval").exists()


def rewrite_x(path, change) -> None:
    with h5py.File(path, "r+") as f:
        for split in ("train", "test"):
            x = f[f"{split}/x"][()]
            del f[f"{split}/x"]
            f[f"{split}/x"] = change(x)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda x: np.hstack([x, x]), "has x of dimension 2; the network of {ckpt} takes 1"),
        (lambda x: 2 * x, "the dataset's x statistics differ from those the model was trained on"),
    ],
    ids=["another dimension", "other statistics"],
)
def test_data_that_does_not_match_the_checkpoint(
    change, message, tanh_checkpoint, toy_file, tmp_path, capsys
):
    """The run's data file replaced by another: evaluation refuses it, naming file and dimensions."""
    saved = toy_file.read_bytes()
    try:
        rewrite_x(toy_file, change)
        fails(evaluate.main, f"ckpt={tanh_checkpoint}", f"hydra.run.dir={tmp_path}")
    finally:
        toy_file.write_bytes(saved)
    err = capsys.readouterr().err
    assert err.startswith("error: data: ") and message.format(ckpt=tanh_checkpoint) in err


MEASUREMENT_CASES = {
    "wrong length": (
        "m.csv",
        "0.1,0.2,0.3\n",
        "takes 1 readings per measurement; give one measurement per row",
    ),
    "sensor off for a single-operator model": ("m.csv", "nan\n", "trained with every sensor on"),
    "infinite reading": ("m.npy", np.array([[np.inf]]), "is infinite"),
    "not numbers": ("m.csv", "0.1\nx\n", "line 2, column 1: 'x' is not a number"),
    "a header and no readings": ("m.csv", "s1\n", "holds only a header row (line 1: 's1')"),
    "unknown format": ("m.txt", "0.1\n", "unknown format '.txt'"),
    "missing HDF5 dataset": ("m.h5", None, "has no dataset 'y'"),
    "missing file": ("absent.csv", False, "does not exist"),
}


@pytest.mark.parametrize("name, content, message", MEASUREMENT_CASES.values(), ids=MEASUREMENT_CASES.keys())
def test_bad_measurements_are_named(name, content, message, tanh_checkpoint, tmp_path, capsys):
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content)
    elif isinstance(content, np.ndarray):
        np.save(path, content)
    elif content is None:
        with h5py.File(path, "w") as f:
            f["readings"] = np.zeros((1, 1))
    fails(infer.main, f"ckpt={tanh_checkpoint}", f"measurement={path}", f"hydra.run.dir={tmp_path / 'out'}")
    err = capsys.readouterr().err
    assert err.startswith("error: measurement") and message in err and str(path) in err
    assert not (tmp_path / "out").exists()  # checked before anything is written: no run directory left


def test_a_failed_inference_leaves_a_directory_it_did_not_make_as_it_was(tanh_checkpoint, tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    (tmp_path / "m.csv").write_text("0.1,0.2\n")
    fails(infer.main, f"ckpt={tanh_checkpoint}", f"measurement={tmp_path / 'm.csv'}", f"hydra.run.dir={out}")
    assert capsys.readouterr().err.startswith("error: measurement")
    assert (out / "notes.txt").read_text() == "keep me" and not (out / "config.yaml").exists()


def test_a_resumed_run_or_a_sweep_that_stops_at_start_up_keeps_its_directory(tmp_path, capsys):
    resumed = tmp_path / "resumed"  # as a run killed at start-up left it
    (resumed / ".hydra").mkdir(parents=True)
    (resumed / "train.log").write_text("")
    fails(train.main, "problem=tanh", "data.noise=-1", f"resume={resumed}")
    sweep = tmp_path / "sweep"
    fails(train.main, "-m", "problem=tanh", "data.noise=-1", f"hydra.sweep.dir={sweep}")
    assert capsys.readouterr().err.count("error: data.noise: must be >= 0") == 2
    assert {p.name for p in resumed.iterdir()} == {".hydra", "train.log"}
    assert (sweep / "multirun.yaml").is_file() and (sweep / "0" / ".hydra").is_dir()


def test_data_generation_names_the_bad_value(tmp_path, capsys):
    fails(data_gen_cli.main, "problem=advdiff", "problem.n_train=-3", f"paths.data_dir={tmp_path}")
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "n_train" in err and "-3" in err


def test_a_real_process_exits_with_status_2_and_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "diffinv.train", "data.noise=-1", f"hydra.run.dir={tmp_path}"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == "error: data.noise: must be >= 0, got -1"
