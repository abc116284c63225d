"""The noise-sweep report of the boundary-flux problems (docs/problems.md §2–4, §5; paper Figs. 9, 11, 14,
17–20): per curve — (problem, formulation, sampler, other settings), labelled with the formulation's
parameters and the sampler's settings — the per-segment error and posterior std against the noise level
(prior std dashed), a summary figure of the segment means and coverage against noise for every curve, and
a markdown table. ``rows`` are :func:`diffinv.run.records.collect`'s, one per (run, sampler); every number
comes from the runs' ``metrics.json`` and ``config.yaml``."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from diffinv.problems.flux.figures import plot_per_segment_vs_noise, plot_sweep_summary
from diffinv.run.files import write_text
from diffinv.run.labels import file_stem, join_labels

N_SEGMENTS = 30  # 15 bottom then 15 top wall segments (docs/problems.md §2)
OPTIONAL = ("exact/mean_err_ratio", "exact/std_ratio", "exact/w1_over_std")
OPTIONAL += ("reference/mean_err_ratio", "reference/std_ratio", "reference/w1_over_std")  # math §18.4
# the calibration diagnostics (docs/math.md §16): column -> metric key; p-values below 0.01 fail
DIAGNOSTICS = {
    "SBC p": "sbc/p_min_bonferroni",
    "TARP p": "tarp/p",
    "TARP dev": "tarp/max_dev",
    "PPC p": "ppc/p",
    "PPC rep cov 68": "ppc/rep_coverage/68",
}


def per_segment(row: dict, key: str) -> np.ndarray:
    return np.array([row[f"{key}/seg_{j:02d}"] for j in range(N_SEGMENTS)])


def curves(rows: list[dict]) -> dict[str, list[dict]]:
    """Rows grouped by curve (the label of problem, formulation, sampler and other settings), each group
    sorted by noise; one run per noise (:func:`diffinv.run.records.name_twins` tells twins apart)."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        groups[join_labels(r["problem"], r["formulation"], r["sampler"], r["settings"])].append(r)
    for group in groups.values():
        group.sort(key=lambda r: r["noise"])
    return dict(sorted(groups.items()))


def table(groups: dict[str, list[dict]]) -> str:
    exact = [k for k in OPTIONAL if any(k in r for g in groups.values() for r in g)]
    checks = {c: k for c, k in DIAGNOSTICS.items() if any(k in r for g in groups.values() for r in g)}
    settings = ["settings"] if any(r["settings"] for g in groups.values() for r in g) else []
    head = ["problem", "formulation", "sampler", *settings, "noise", "rel_mae", "post_std", "prior_std"]
    head += ["cov 1σ", "cov 2σ", *exact, *checks, "epochs", "test cases", "samples", "sample s", "run"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for group in groups.values():
        for r in group:
            cells = [r["problem"], r["formulation"], r["sampler"]]
            cells += [r["settings"]] if settings else []
            cells += [r["noise_label"]]
            cells += [f"{r[k]:.4f}" for k in ("rel_mae/mean", "post_std/mean", "prior_std/mean")]
            cells += [f"{r[k]:.3f}" for k in ("coverage/1sigma", "coverage/2sigma")]
            cells += [f"{r[k]:.3f}" if k in r else "–" for k in exact]
            cells += [f"{r[k]:.2g}" if k in r else "–" for k in checks.values()]
            cells += [str(r["epochs"]), f"{r['eval/n_test']:.0f}", str(r["n_samples"])]
            cells += [f"{r['time/sample_s']:.1f}", f"`{r['run'].name}`"]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def summary_curves(groups: dict[str, list[dict]]) -> dict[str, dict[str, np.ndarray]]:
    """Per curve: the segment means of :func:`plot_sweep_summary` against noise."""
    keys = {
        "rel_mae": "rel_mae/mean",
        "post_std": "post_std/mean",
        "prior_std": "prior_std/mean",
        "coverage_1sigma": "coverage/1sigma",
        "coverage_2sigma": "coverage/2sigma",
    }
    return {
        label: {"noise": np.array([r["noise"] for r in group])}
        | {name: np.array([r[key] for r in group]) for name, key in keys.items()}
        for label, group in groups.items()
    }


def report(rows: list[dict], directory: Path, out: Path) -> str:
    groups = curves(rows)
    plot_sweep_summary(summary_curves(groups), out / "summary.png", title=str(directory))
    sections = [
        f"# Boundary-flux report for `{directory}`",
        "Per run and sampler: relative mean absolute error of the posterior mean (mean over segments), mean "
        "posterior std and the prior std (std of the true flux over the test set), coverage of the ±1σ/±2σ "
        "intervals and, for the linear–Gaussian variant, the ratios to the exact posterior "
        "(docs/problems.md §2) or, with a reference file, to the MCMC reference posterior (docs/math.md "
        "§18.4); the calibration diagnostics (docs/usage.md §16): SBC, TARP and "
        "predictive-check p-values (below 0.01: the posterior fails the check), TARP's largest coverage "
        "error and the coverage of a replicate reading by the central 68 % predictive interval. Noise: "
        "`data.noise` in % of the training set's mean |clean reading| and the "
        "absolute σ_n it gives (docs/problems.md §2.4).",
        table(groups),
        "![error, std and coverage against noise, every problem, formulation and sampler](summary.png)",
    ]
    for title, group in groups.items():
        stem = file_stem(title)
        noise = np.array([r["noise"] for r in group])
        plot_per_segment_vs_noise(
            noise, np.stack([per_segment(r, "rel_mae") for r in group]), out / f"{stem}_rel_mae.png",
            ylabel="relative error of the posterior mean", title=title,
        )  # fmt: skip
        plot_per_segment_vs_noise(
            noise, np.stack([per_segment(r, "post_std") for r in group]), out / f"{stem}_post_std.png",
            ylabel="posterior std (dashed: prior std)", reference=per_segment(group[0], "prior_std"),
            title=title,
        )  # fmt: skip
        sections.append(
            f"![{title}: error vs noise]({stem}_rel_mae.png) ![{title}: std vs noise]({stem}_post_std.png)"
        )
    text = "\n\n".join(sections)
    write_text(out / "report.md", text + "\n")
    return text
