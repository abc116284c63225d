"""Scale-out on existing engines (docs/usage.md §11): Lightning DDP with 2 CPU processes against
one process, and a Hydra multirun through the submitit launcher (``submitit_local``: the code path of
``submitit_slurm`` without a scheduler)."""

import csv
import json
import shlex

import numpy as np

from tests.helpers.runs import run_module

TANH = ("debug=fast", "problem=tanh", "trainer.max_epochs=40", "problem.evaluator.exact_sinkhorn=false")


def epoch_losses(run) -> np.ndarray:
    with open(run / "csv" / "version_0" / "metrics.csv") as f:
        return np.array([float(r["train/loss"]) for r in csv.DictReader(f) if r.get("train/loss")])


def test_ddp_on_two_cpu_processes_trains_like_one_process(tmp_path):
    """Batches of 1999 of the 2000 pairs: shares of 1000 and 999, then of 1 and 0 (docs/usage.md §11)."""
    uneven = (*TANH, "data.batch_size=1999")
    run_module("diffinv.train", *uneven, f"paths.root_dir={tmp_path}", f"hydra.run.dir={tmp_path / 'one'}")
    run_module(
        "diffinv.train",
        *uneven,
        "trainer=ddp",
        "trainer.accelerator=cpu",
        f"paths.root_dir={tmp_path}",
        f"hydra.run.dir={tmp_path / 'ddp'}",
    )
    one, ddp = (json.loads((tmp_path / r / "metrics.json").read_text()) for r in ("one", "ddp"))
    assert (tmp_path / "ddp" / "train_ddp_process_1.log").is_file()  # a second process really trained
    assert ddp["train/steps"] == one["train/steps"] == 80  # each process takes its share of every batch
    losses_one, losses_ddp = epoch_losses(tmp_path / "one"), epoch_losses(tmp_path / "ddp")
    assert len(losses_ddp) == 40 and np.isfinite(losses_ddp).all()
    late_one, late_ddp = losses_one[-10:], losses_ddp[-10:]
    assert abs(late_ddp.mean() - late_one.mean()) < 0.1 * late_one.mean()
    assert np.isfinite(ddp["ode/sinkhorn/mean"])


def test_a_two_process_ddp_step_is_the_one_process_step(tmp_path):
    """Three steps of batches of 1999 of the 2000 pairs (shares of 1000 and 999, then of 1 and 0): every
    process draws the global batch's t and z and keeps its rows, so the weights after DDP's averaged steps
    are those of one process on the same batches, to float round-off (docs/usage.md §11)."""
    import torch

    steps = (*TANH, "trainer.max_epochs=2", "+trainer.max_steps=3", "data.batch_size=1999")
    for name, extra in (("one", ()), ("ddp", ("trainer=ddp", "trainer.accelerator=cpu"))):
        run_module(
            "diffinv.train", *steps, *extra, f"paths.root_dir={tmp_path}", f"hydra.run.dir={tmp_path / name}"
        )
    one, ddp = (
        torch.load(tmp_path / r / "checkpoints" / "final.ckpt", weights_only=False) for r in ("one", "ddp")
    )
    assert one["global_step"] == ddp["global_step"] == 3
    assert one["state_dict"].keys() == ddp["state_dict"].keys()
    for key, value in one["state_dict"].items():
        torch.testing.assert_close(ddp["state_dict"][key], value, rtol=1e-4, atol=1e-5)  # float32 sums


def test_multirun_through_the_submitit_launcher_ends_with_the_report_command(tmp_path):
    sweep = tmp_path / "sweep"
    result = run_module(
        "diffinv.train",
        "-m",
        "hydra/launcher=submitit_local",
        "hydra.launcher.timeout_min=10",
        "debug=fast",
        "problem=tanh",
        "problem.evaluator.exact_sinkhorn=false",
        "formulation=ve,vp",
        f"paths.root_dir={tmp_path}",
        f"hydra.sweep.dir={sweep}",
    )
    for job in ("0", "1"):
        metrics = json.loads((sweep / job / "metrics.json").read_text())
        assert np.isfinite(metrics["ode/sinkhorn/mean"])
    assert list((sweep / ".submitit").glob("*/*_result.pkl"))  # submitit's own job records
    *_, results, command = result.stdout.splitlines()  # the sweep's last words (docs/usage.md §2)
    assert results == f"results: {sweep}" and command == f"report: python -m diffinv.report {sweep}"
    python, flag, module, *arguments = shlex.split(command.removeprefix("report: "))
    assert (python, flag) == ("python", "-m")
    report = run_module(module, *arguments)  # the printed command, as printed
    assert "| VE | ODE |" in report.stdout and "| VP | ODE |" in report.stdout
    assert (sweep / "report.md").is_file()
