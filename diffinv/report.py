"""``python -m diffinv.report DIR [--out DIR]``: a run or a multirun directory to a markdown report in the
paper's Table 2 layout (formulation × sampler rows, problem columns, the floor beside each cell) and a figure
(docs/problems.md §1, §5). Every number comes from the runs' ``metrics.json`` and ``config.yaml``.
Boundary-flux runs (docs/problems.md §2–4) get the noise-sweep report of :mod:`diffinv.problems.flux.report`
instead."""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import yaml  # noqa: E402

from diffinv.problems.flux import report as flux_report  # noqa: E402
from diffinv.run.files import save_figure, write_text  # noqa: E402

FORMULATION_NAMES = {"VE": "VE", "VP": "VP", "VPFamily": "VP-κ"}
# Paper Table 2 as quoted in docs/problems.md §1 (their datasets, same metric), shown for comparison.
PAPER = {
    ("VE", "ODE"): {"tanh": 0.051, "bimodal": 0.059, "spiral": 0.047},
    ("VE", "SDE"): {"tanh": 0.040, "bimodal": 0.043, "spiral": 0.052},
    ("VP", "ODE"): {"tanh": 0.046, "bimodal": 0.046, "spiral": 0.045},
    ("VP", "SDE"): {"tanh": 0.041, "bimodal": 0.044, "spiral": 0.041},
}


def find_runs(directory: Path) -> list[Path]:
    """``directory`` itself if it is a run, else every run below it (a multirun's numbered folders)."""
    if (directory / "metrics.json").is_file():
        return [directory]
    runs = sorted(p.parent for p in directory.rglob("metrics.json") if (p.parent / "config.yaml").is_file())
    if not runs:
        raise FileNotFoundError(f"{directory}: no run directories (metrics.json + config.yaml) found")
    return runs


def collect(runs: list[Path]) -> list[dict]:
    """One row per (run, sampler): problem, formulation, sampler, the metrics of that sampler and the run."""
    rows = []
    for run in runs:
        metrics = json.loads((run / "metrics.json").read_text())
        config = yaml.safe_load((run / "config.yaml").read_text())
        formulation = FORMULATION_NAMES.get(config["formulation"]["_target_"].rsplit(".", 1)[-1], "?")
        for sampler in sorted({k.split("/")[0] for k in metrics if k.endswith("/time/sample_s")}):
            rows.append(
                {
                    "run": run,
                    "problem": config["problem"]["name"],
                    "formulation": formulation,
                    "sampler": sampler.upper(),
                    "epochs": config["trainer"]["max_epochs"],
                    "n_samples": config["evaluation"]["n_samples"],
                    "noise": config["data"]["noise"],
                    **{k.removeprefix(f"{sampler}/"): v for k, v in metrics.items() if "/" in k},
                }
            )
    return rows


def table(rows: list[dict], key: str, with_floor: bool) -> str:
    problems = sorted({r["problem"] for r in rows}, key=["tanh", "bimodal", "spiral"].index)
    cells = defaultdict(dict)
    for r in rows:
        if key not in r:
            cells[(r["formulation"], r["sampler"])][r["problem"]] = "not computed"
            continue
        text = f"{r[key]:.4f}"
        if with_floor:
            text += f" (floor {r['sinkhorn_floor/mean']:.4f}, ×{r[key] / r['sinkhorn_floor/mean']:.1f})"
        cells[(r["formulation"], r["sampler"])][r["problem"]] = text
    lines = ["| formulation | sampler | " + " | ".join(problems) + " |", "|---|---|" + "---|" * len(problems)]
    for (form, sampler), by_problem in sorted(cells.items()):
        lines.append(f"| {form} | {sampler} | " + " | ".join(by_problem.get(p, "–") for p in problems) + " |")
    return "\n".join(lines)


def exact_reference_section(rows: list[dict]) -> list[str]:
    """The Sinkhorn table against the exact reference, when some run computed it
    (``evaluation.exact_sinkhorn``; ``experiment=table2`` skips it)."""
    if not any("sinkhorn_exact/mean" in r for r in rows):
        return []
    return [
        "Against the exact reference p(x | y*) (inverse-CDF sample of the band's size):",
        table(rows, "sinkhorn_exact/mean", with_floor=False),
    ]


def paper_table(rows: list[dict]) -> str:
    problems = sorted({r["problem"] for r in rows}, key=["tanh", "bimodal", "spiral"].index)
    lines = ["| formulation | sampler | " + " | ".join(problems) + " |", "|---|---|" + "---|" * len(problems)]
    for (form, sampler), values in PAPER.items():
        lines.append(f"| {form} | {sampler} | " + " | ".join(f"{values[p]:.3f}" for p in problems) + " |")
    return "\n".join(lines)


def runs_table(rows: list[dict]) -> str:
    lines = [
        "| problem | formulation | sampler | epochs | steps | final loss | train s | sample s | samples/y* "
        "| run |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(rows, key=lambda r: (r["problem"], r["formulation"], r["sampler"])):
        numbers = [_fmt(r, "train/steps", ".0f"), _fmt(r, "train/final_loss", ".4f")]
        numbers += [_fmt(r, "time/train_s", ".0f"), _fmt(r, "time/sample_s", ".1f")]
        lines.append(
            f"| {r['problem']} | {r['formulation']} | {r['sampler']} | {r['epochs']} | "
            + " | ".join(numbers)
            + f" | {r['n_samples']} | `{r['run']}` |"
        )
    return "\n".join(lines)


def _fmt(row: dict, key: str, spec: str) -> str:
    """A run re-scored by ``diffinv.evaluate`` has no training numbers: shown as a dash."""
    return format(row[key], spec) if key in row else "–"


def figure(rows: list[dict]):
    """Sinkhorn distance of each (formulation, sampler) beside the floor, one panel per problem."""
    problems = sorted({r["problem"] for r in rows}, key=["tanh", "bimodal", "spiral"].index)
    fig, axes = plt.subplots(1, len(problems), figsize=(4 * len(problems), 3), squeeze=False)
    for ax, problem in zip(axes[0], problems, strict=True):
        mine = sorted(
            (r for r in rows if r["problem"] == problem), key=lambda r: (r["formulation"], r["sampler"])
        )
        labels = [f"{r['formulation']}-{r['sampler']}" for r in mine]
        ax.bar(np.arange(len(mine)), [r["sinkhorn/mean"] for r in mine], label="sinkhorn (band ref.)")
        ax.scatter(
            np.arange(len(mine)), [r["sinkhorn_floor/mean"] for r in mine], color="k", zorder=3, label="floor"
        )
        ax.set_xticks(np.arange(len(mine)), labels, rotation=30, fontsize=8)
        ax.set_title(problem)
    axes[0][0].legend(fontsize=7)
    return fig


def report(directory: Path, out: Path) -> str:
    rows = collect(find_runs(directory))
    if "rel_mae/mean" in rows[0]:  # boundary-flux runs (docs/problems.md §2–4)
        return flux_report.report(rows, directory, out)
    seen: dict = {}
    for r in rows:
        cell = (r["problem"], r["formulation"], r["sampler"])
        if cell in seen:
            raise ValueError(f"two runs fill the cell {cell}: {seen[cell]} and {r['run']}; report one sweep")
        seen[cell] = r["run"]
    text = "\n\n".join(
        [
            f"# Table 2 report for `{directory}`",
            "Sinkhorn distance (POT's `sinkhorn2`, reg 0.01, converged) against the band reference "
            "(test pairs with |y - y*| < 0.05), mean over the four y*; beside it the floor (an exact sample "
            "of the same size against the same band reference) and the ratio to the floor "
            "(docs/problems.md §1).",
            table(rows, "sinkhorn/mean", with_floor=True),
            *exact_reference_section(rows),
            "Exact squared 1-D Wasserstein-2 distance to the exact reference:",
            table(rows, "w2/mean", with_floor=False),
            "The paper's Table 2 (its datasets, same metric), for comparison:",
            paper_table(rows),
            "Runs:",
            runs_table(rows),
            "![sinkhorn vs floor](sinkhorn_vs_floor.png)",
        ]
    )
    write_text(out / "report.md", text + "\n")
    save_figure(figure(rows), out / "sinkhorn_vs_floor.png")
    return text


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path, help="a run or multirun directory")
    parser.add_argument("--out", type=Path, default=None, help="where report.md goes (default: DIRECTORY)")
    args = parser.parse_args(argv)
    text = report(args.directory, args.out or args.directory)
    print(text)
    print(f"\nwritten: {(args.out or args.directory) / 'report.md'}")


if __name__ == "__main__":
    main()
