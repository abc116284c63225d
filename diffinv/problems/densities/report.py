"""The Table 2 report of the 2-D density problems (docs/problems.md §1, §5): a markdown table in the paper's
layout (formulation × sampler rows, problem columns, the floor beside each cell) and a figure. Rows are
labelled with the formulation's parameters and the sampler's settings (``VP-κ=2``, ``SDE 500 steps
logsnr``), and
a ``settings`` column names any other value in which the runs differ, so a sweep over any parameter gives
one row per value. Every number comes from the runs' ``metrics.json`` and ``config.yaml``."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from diffinv.run.files import save_figure, write_text  # noqa: E402

# Paper Table 2 as quoted in docs/problems.md §1 (their datasets, same metric), shown for comparison.
PAPER = {
    ("VE", "ODE"): {"tanh": 0.051, "bimodal": 0.059, "spiral": 0.047},
    ("VE", "SDE"): {"tanh": 0.040, "bimodal": 0.043, "spiral": 0.052},
    ("VP", "ODE"): {"tanh": 0.046, "bimodal": 0.046, "spiral": 0.045},
    ("VP", "SDE"): {"tanh": 0.041, "bimodal": 0.044, "spiral": 0.041},
}


def table(rows: list[dict], key: str, with_floor: bool) -> str:
    problems = sorted({r["problem"] for r in rows}, key=["tanh", "bimodal", "spiral"].index)
    cells = defaultdict(dict)
    for r in rows:
        if key not in r:
            cells[row_key(r)][r["problem"]] = "not computed"
            continue
        text = f"{r[key]:.4f}"
        if with_floor:
            text += f" (floor {r['sinkhorn_floor/mean']:.4f}, ×{r[key] / r['sinkhorn_floor/mean']:.1f})"
        cells[row_key(r)][r["problem"]] = text
    head = ["formulation", "sampler", *settings_column(rows), *problems]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for labels, by_problem in sorted(cells.items()):
        shown = labels if settings_column(rows) else labels[:2]
        lines.append("| " + " | ".join([*shown, *(by_problem.get(p, "–") for p in problems)]) + " |")
    return "\n".join(lines)


def row_key(row: dict) -> tuple[str, str, str]:
    """A table row: the formulation and sampler labels, and the settings in which runs differ otherwise."""
    return row["formulation"], row["sampler"], row["settings"]


def settings_column(rows: list[dict]) -> list[str]:
    """The settings column's head where some runs differ in other settings than the labels show."""
    return ["settings"] if any(r["settings"] for r in rows) else []


def exact_reference_section(rows: list[dict]) -> list[str]:
    """The Sinkhorn table against the exact reference, when some run computed it
    (``problem.evaluator.exact_sinkhorn``; ``experiment=table2`` skips it)."""
    if not any("sinkhorn_exact/mean" in r for r in rows):
        return []
    return [
        "Against the exact reference p(x | y*) (inverse-CDF sample of the band's size):",
        table(rows, "sinkhorn_exact/mean", with_floor=False),
    ]


def diagnostics_section(rows: list[dict]) -> list[str]:
    """The SBC and TARP p-values (docs/usage.md §16), when some run computed them."""
    if not any("sbc/p_min_bonferroni" in r for r in rows):
        return []
    return [
        "Calibration against exact draws of p(x | y*), SBC p-value (below 0.01: fails; docs/usage.md §16):",
        table(rows, "sbc/p_min_bonferroni", with_floor=False),
        "TARP p-value:",
        table(rows, "tarp/p", with_floor=False),
    ]


def paper_table(rows: list[dict]) -> str:
    problems = sorted({r["problem"] for r in rows}, key=["tanh", "bimodal", "spiral"].index)
    lines = ["| formulation | sampler | " + " | ".join(problems) + " |", "|---|---|" + "---|" * len(problems)]
    for (form, sampler), values in PAPER.items():
        lines.append(f"| {form} | {sampler} | " + " | ".join(f"{values[p]:.3f}" for p in problems) + " |")
    return "\n".join(lines)


def runs_table(rows: list[dict]) -> str:
    head = ["problem", "formulation", "sampler", *settings_column(rows), "epochs", "steps", "final loss"]
    head += ["train s", "sample s", "samples/y*", "run"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in sorted(rows, key=lambda r: (r["problem"], *row_key(r))):
        cells = [r["problem"], r["formulation"], r["sampler"]]
        cells += [r["settings"]] if settings_column(rows) else []
        cells += [str(r["epochs"]), _fmt(r, "train/steps", ".0f"), _fmt(r, "train/final_loss", ".4f")]
        cells += [_fmt(r, "time/train_s", ".0f"), _fmt(r, "time/sample_s", ".1f"), str(r["n_samples"])]
        lines.append("| " + " | ".join([*cells, f"`{r['run']}`"]) + " |")
    return "\n".join(lines)


def _fmt(row: dict, key: str, spec: str) -> str:
    """A run re-scored by ``diffinv.evaluate`` has no training numbers: shown as a dash."""
    return format(row[key], spec) if key in row else "–"


def figure(rows: list[dict]):
    """Sinkhorn distance of each (formulation, sampler) beside the floor, one panel per problem."""
    problems = sorted({r["problem"] for r in rows}, key=["tanh", "bimodal", "spiral"].index)
    fig, axes = plt.subplots(1, len(problems), figsize=(4 * len(problems), 3), squeeze=False)
    for ax, problem in zip(axes[0], problems, strict=True):
        mine = sorted((r for r in rows if r["problem"] == problem), key=row_key)
        labels = ["\n".join(filter(None, row_key(r))) for r in mine]
        ax.bar(np.arange(len(mine)), [r["sinkhorn/mean"] for r in mine], label="sinkhorn (band ref.)")
        ax.scatter(
            np.arange(len(mine)), [r["sinkhorn_floor/mean"] for r in mine], color="k", zorder=3, label="floor"
        )
        ax.set_xticks(np.arange(len(mine)), labels, rotation=30, fontsize=8)
        ax.set_title(problem)
    axes[0][0].legend(fontsize=7)
    return fig


def report(rows: list[dict], directory: Path, out: Path) -> str:
    """``out/report.md`` and ``out/sinkhorn_vs_floor.png`` for the runs of ``directory`` (``rows``:
    :func:`diffinv.run.records.collect`)."""
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
            *diagnostics_section(rows),
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
