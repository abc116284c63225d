"""The accuracy–cost frontier on TRAINED networks (issue 13, item 6): every fixed-budget sampler × step
schedule of ``benchmarks/bench_samplers_exact.py`` (its ``SAMPLERS`` and ``diffinv.core.samplers.SCHEDULES``,
imported) run on the default recipe's networks of the linear–Gaussian check at noise 0.01, 0.05 and 0.2 and
scored against the exact posterior: the counterpart of that benchmark's exact-score tables
(benchmarks/RESULTS.md).

    python -m experiments.fast_posteriors.trained_frontier [RUN_OR_CKPT ...] [--cases 50] [--samples 200]

(from the repository root, like ``python -m benchmarks...``: it imports ``benchmarks.bench_samplers_exact``).
The arguments are run directories (their ``checkpoints/final.ckpt``, the EMA weights the run evaluated) or
checkpoint files; the defaults are the three recipe runs committed as ``runs/recipe-{F_1e2,G05_1e2,G20_1e2}``.

For each checkpoint: :func:`diffinv.training.checkpoint.load_model`, the run's datamodule on its own data
file (it stops with a message if that file is missing; nothing is generated) and its first ``--cases`` test
measurements and truths from ``datamodule.test_measurements``: the first of the cases the run scored, with
the same seeded noise. Every sampler × schedule × budget (``--budgets``, target network calls; Heun spends
``2N - 1``) draws ``--samples`` samples per case through the one sampling path
(:func:`diffinv.training.posterior.sample_in_batches`, seed the run's ``evaluation.seed``, so every row starts
from the same x_T), which counts the network calls: ``calls`` is the real number per sample
(``Drawn.calls_per_sample``). Scores as the flux evaluator computes them: ``exact_comparison`` (std
ratio, mean-error ratio, W1/std and its floor; W1 over all ``--cases`` cases rather than the evaluator's
first 5, for a steadier number, the floor likewise) and ``segment_metrics``' ±1σ / ±2σ coverage.

A schedule whose grids equal an earlier one's at every step count up to the largest budget (to float64
round-off: on VE ``logsnr`` is ``uniform``, docs/math.md §12.4) is not sampled again: its rows are that
schedule's, marked ``same_grid_as``. ``meets`` marks the rows inside issue 13's targets: std ratio
0.97–1.03, mean-error ratio ≤ 1.03, ±1σ coverage 0.683 ± 0.02 (the ≤ 50-call budget is the calls column).

Writes ``trained_frontier.json`` (every row, and each run's own recorded metrics for reference) and
``trained_frontier.png`` (std ratio and W1/std against calls, one column per noise level, one line per
sampler × schedule) into ``--out`` (default: this folder) and prints the markdown table. One torch thread.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import matplotlib
import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from benchmarks.bench_samplers_exact import SAMPLERS  # noqa: E402
from diffinv.core.samplers import SCHEDULES, time_grid  # noqa: E402
from diffinv.data.source import dataset_path  # noqa: E402
from diffinv.problems.flux.evaluator import FluxEvaluator  # noqa: E402
from diffinv.problems.posterior.metrics import exact_comparison, exact_posteriors, segment_metrics  # noqa: E402
from diffinv.run.files import save_figure, write_json  # noqa: E402
from diffinv.training.checkpoint import load_model  # noqa: E402
from diffinv.training.posterior import SamplingPlan, sample_in_batches  # noqa: E402

HERE = Path(__file__).resolve().parent
RUNS = [Path("/tmp/exp13") / name for name in ("F_1e2", "G05_1e2", "G20_1e2")]  # runs/recipe-<name>
BUDGETS = (10, 20, 40, 80)
DEFAULTS = {"ode": ("dpmpp_3m", "logsnr", 20), "sde": ("dpmpp_2m_sde λ=1", "logsnr", 40)}  # conf/sampler
TARGETS = {"std_ratio": (0.97, 1.03), "mean_err_ratio": (0.0, 1.03), "coverage_1sigma": (0.663, 0.703)}
SCHEDULE_LINES = {"uniform": "-", "karras": "--", "logsnr": ":"}
EXACT = "exact posterior samples (reference)"


class Budgeted:
    """A sampler of ``SAMPLERS`` at one budget and schedule, as a module's sampler ``(score_fn, formulation,
    x_T) -> x`` (the sampling path counts its network calls). The stochastic samplers draw from torch's global
    generator, which :meth:`~diffinv.training.module.ScoreModule.sample` seeds per batch."""

    def __init__(self, name: str, schedule: str, budget: int):
        self.run, self.schedule, self.budget = SAMPLERS[name], schedule, budget

    def __call__(self, score_fn, formulation, x_T):
        return self.run(score_fn, formulation, x_T, self.budget, self.schedule, None)


def same_grids(formulation, budgets) -> dict[str, str]:
    """schedule -> an earlier schedule of :data:`SCHEDULES` whose grids equal its own to float64 round-off at
    every step count up to ``max(budgets)`` (so every sampler evaluates the network at the same times; the
    float32 grids the samplers use then differ by a few ulps)."""

    def grid(schedule: str, steps: int) -> torch.Tensor:
        return time_grid(formulation, steps, schedule, dtype=torch.float64)

    alias: dict[str, str] = {}
    for i, schedule in enumerate(SCHEDULES):
        for earlier in (s for s in SCHEDULES[:i] if s not in alias):
            steps = range(1, max(budgets) + 1)
            if all(torch.allclose(grid(schedule, n), grid(earlier, n), rtol=1e-12, atol=0) for n in steps):
                alias[schedule] = earlier
                break
    return alias


def run_directory(arg: str) -> tuple[Path, Path]:
    """(run directory, checkpoint) of a run directory or a checkpoint file inside ``<run>/checkpoints``."""
    path = Path(arg)
    if path.is_dir():
        return path, path / "checkpoints" / "final.ckpt"
    return path.parent.parent, path


def sweep(arg: str, n_cases: int, n_samples: int, budgets) -> tuple[dict, list[dict]]:
    """The run's description and one row per sampler × schedule × budget (module docstring)."""
    run, ckpt = run_directory(arg)
    model = load_model(ckpt)
    cfg = model.config
    path = dataset_path(cfg)
    if not path.is_file():  # never generated here
        sys.exit(f"error: {ckpt}: its data file {path} does not exist; stopping")
    datamodule = instantiate(cfg.data, path=str(path))
    datamodule.setup("test")
    model.check_data(datamodule)
    exact = FluxEvaluator._exact_problem(datamodule)
    if exact is None:
        sys.exit(f"error: {ckpt}: not the linear–Gaussian check (problem.clip=false, noise > 0)")
    truth, y, mask = datamodule.test_measurements(n_cases)
    y_norm = datamodule.normalise_y(y, mask)
    plan = SamplingPlan(n_samples=n_samples, chunk_size=n_cases * n_samples, seed=int(cfg.evaluation.seed))
    metrics_file = run / "metrics.json"
    recorded = json.loads(metrics_file.read_text()) if metrics_file.is_file() else {}
    info = {
        "run": run.name,
        "ckpt": str(ckpt),
        "data_file": str(path),
        "noise": float(cfg.data.noise),
        "noise_std": float(datamodule.noise_std),
        "cases": len(truth),
        "samples": n_samples,
        "seed": plan.seed,
        "run_metrics": {
            k: v for k, v in recorded.items() if "/exact/" in k or "/coverage/" in k or k.startswith("exact/")
        },
        "run_samplers": OmegaConf.to_container(cfg.sampler),
    }
    print(
        f"{run.name}: noise {info['noise']:g}, {len(truth)} cases x {n_samples} samples, data {path}",
        flush=True,
    )
    alias = same_grids(model.module.formulation, budgets)
    info["same_grid_as"] = alias
    rows = []
    for name in SAMPLERS:
        for schedule in SCHEDULES:
            for budget in budgets:
                if schedule in alias:
                    done = next(r for r in rows if (r["sampler"], r["schedule"], r["budget"]) == (
                        name, alias[schedule], budget))  # fmt: skip
                    rows.append(done | {"schedule": schedule, "same_grid_as": alias[schedule]})
                    rows[-1]["default"] = default_of(name, schedule, budget)
                    print(table_line(rows[-1]), flush=True)
                    continue
                sampler = Budgeted(name, schedule, budget)
                with tempfile.TemporaryDirectory() as tmp:
                    drawn = sample_in_batches(model.module, sampler, y_norm, mask, plan, Path(tmp))
                samples = datamodule.x_norm.inverse(drawn.samples)
                row = {"noise": info["noise"], "run": run.name, "sampler": name, "schedule": schedule}
                row |= {"budget": budget, "calls": drawn.calls_per_sample, "same_grid_as": None}
                row |= score(samples, truth, y, exact, mask, plan.seed) | {"sample_s": drawn.seconds}
                row["default"] = default_of(name, schedule, budget)
                rows.append(row)
                print(table_line(row), flush=True)
    return info, rows + [reference_row(info, truth, y, exact, mask, plan)]


def score(samples, truth, y, exact, mask, seed: int) -> dict:
    """The flux evaluator's scores of physical-unit samples against the exact posterior; ``meets``."""
    scores = exact_comparison(samples, truth, y, *exact, n_distance_cases=len(truth), seed=seed, mask=mask)
    coverage = segment_metrics(samples, truth)
    out = {
        "std_ratio": scores["exact/std_ratio"],
        "mean_err_ratio": scores["exact/mean_err_ratio"],
        "coverage_1sigma": coverage["coverage/1sigma"],
        "coverage_2sigma": coverage["coverage/2sigma"],
        "w1_over_std": scores["exact/w1_over_std"],
        "w1_over_std_floor": scores["exact/w1_over_std_floor"],
        "rel_mae": coverage["rel_mae/mean"],
    }
    return out | {"meets": all(lo <= out[k] <= hi for k, (lo, hi) in TARGETS.items())}


def reference_row(info: dict, truth, y, exact, mask, plan: SamplingPlan) -> dict:
    """What a perfect sampler scores on these cases at this sample size: independent exact posterior samples
    (as many per case as the samplers drew, their own seed), scored as every row."""
    mean, cov = exact_posteriors(y, *exact, mask)
    values, vectors = np.linalg.eigh(cov)
    roots = vectors * np.sqrt(np.clip(values, 0, None))[:, None, :]
    z = np.random.default_rng([plan.seed, 1]).standard_normal((len(y), plan.n_samples, mean.shape[1]))
    samples = mean[:, None, :] + z @ roots.transpose(0, 2, 1)
    row = {"noise": info["noise"], "run": info["run"], "sampler": EXACT, "schedule": "–", "budget": 0}
    row |= {"calls": 0, "same_grid_as": None, "default": None, "sample_s": 0.0}
    row |= score(samples, truth, y, exact, mask, plan.seed)
    print(table_line(row), flush=True)
    return row


def default_of(name: str, schedule: str, budget: int) -> str | None:
    """``ode`` / ``sde`` where the row is that config's default sampler, else None."""
    return next((k for k, v in DEFAULTS.items() if v == (name, schedule, budget)), None)


def table_header() -> str:
    columns = ["noise", "sampler", "schedule", "calls", "std ratio", "mean-err ratio", "±1σ cov", "±2σ cov"]
    columns += ["W1/std (floor)", "sampling s", "targets"]
    return "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns)


def table_line(r: dict) -> str:
    name = r["sampler"] + (f" (`{r['default']}` default)" if r["default"] else "")
    return (
        f"| {r['noise']:g} | {name} | {r['schedule']} | {r['calls']:g} | {r['std_ratio']:.3f} | "
        f"{r['mean_err_ratio']:.3f} | {r['coverage_1sigma']:.3f} | {r['coverage_2sigma']:.3f} | "
        f"{r['w1_over_std']:.3f} ({r['w1_over_std_floor']:.3f}) | "
        f"{'= ' + r['same_grid_as'] if r['same_grid_as'] else format(r['sample_s'], '.1f')} | "
        f"{'**met**' if r['meets'] else ''} |"
    )


def plot(rows: list[dict], noises: list[float], path: Path) -> Path:
    """std ratio and W1/std against calls: a column per noise level, a line per sampler × schedule."""
    fig, axes = plt.subplots(2, len(noises), figsize=(4.3 * len(noises), 7.5), sharex=True, squeeze=False)
    colours = {name: f"C{i}" for i, name in enumerate(SAMPLERS)}
    for column, noise in enumerate(noises):
        at_noise = [r for r in rows if r["noise"] == noise and r["sampler"] != EXACT]
        for name in SAMPLERS:
            for schedule in SCHEDULES:
                line = sorted((r for r in at_noise if (r["sampler"], r["schedule"]) == (name, schedule)),
                              key=lambda r: r["calls"])  # fmt: skip
                style = {"color": colours[name], "ls": SCHEDULE_LINES[schedule], "marker": ".", "lw": 1.2}
                for row, key in enumerate(("std_ratio", "w1_over_std")):
                    axes[row, column].plot([r["calls"] for r in line], [r[key] for r in line], **style)
        for r in at_noise:
            if r["default"]:
                for row, key in enumerate(("std_ratio", "w1_over_std")):
                    axes[row, column].plot(r["calls"], r[key], "k*", ms=11, mfc="none")
        axes[0, column].axhspan(*TARGETS["std_ratio"], color="g", alpha=0.15)
        axes[0, column].set_ylim(0.8, 1.6)
        axes[1, column].axhline(at_noise[0]["w1_over_std_floor"], color="k", lw=0.8, ls=":")
        axes[1, column].set_ylim(0, 0.6)
        axes[0, column].set_title(f"noise σ_n = {noise:g} × mean reading")
        axes[1, column].set_xlabel("network calls per sample")
        axes[1, column].set_xscale("log")
        axes[1, column].set_xticks(BUDGETS, [str(b) for b in BUDGETS])
        axes[1, column].minorticks_off()
    axes[0, 0].set_ylabel("std ratio (band: 0.97–1.03; clipped to 0.8–1.6)")
    axes[1, 0].set_ylabel("W1 / std (dotted: exact-sample floor; clipped at 0.6)")
    handles = [plt.Line2D([], [], color=c, label=n) for n, c in colours.items()]
    handles += [plt.Line2D([], [], color="gray", ls=ls, label=s) for s, ls in SCHEDULE_LINES.items()]
    handles += [plt.Line2D([], [], color="k", marker="*", mfc="none", ls="none", ms=10, label="defaults")]
    axes[0, -1].legend(handles=handles, fontsize=7, loc="upper right")
    n = rows[0]
    fig.suptitle(
        f"Trained networks (default recipe, 1,000 epochs), {n['cases']} cases × {n['samples']} samples: "
        "accuracy against network calls, every sampler × schedule"
    )
    fig.tight_layout()
    return save_figure(fig, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "runs", nargs="*", default=[str(r) for r in RUNS], help="run directories or checkpoints"
    )
    parser.add_argument("--cases", type=int, default=50, help="first test measurements of each run")
    parser.add_argument("--samples", type=int, default=200, help="samples per measurement")
    parser.add_argument(
        "--budgets", type=int, nargs="+", default=list(BUDGETS), help="target calls per sample"
    )
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()
    torch.set_num_threads(1)
    started = time.perf_counter()
    runs, rows = [], []
    for arg in args.runs:
        info, run_rows = sweep(arg, args.cases, args.samples, args.budgets)
        runs.append(info)
        rows += [r | {"cases": info["cases"], "samples": info["samples"]} for r in run_rows]
        result = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "runs": runs, "rows": rows}
        write_json(
            args.out / "trained_frontier.json", result
        )  # after each run: a killed sweep keeps its rows
    print(plot(rows, sorted({r["noise"] for r in rows}), args.out / "trained_frontier.png"))
    print(f"\n{table_header()}")
    for r in rows:
        print(table_line(r))
    print(f"\n{len(rows)} rows in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
