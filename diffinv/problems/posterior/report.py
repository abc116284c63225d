"""The report of runs of a problem of one's own (docs/design.md §9): one table row per (run, sampler) with
the headline numbers of :class:`~diffinv.problems.posterior.evaluator.PosteriorEvaluator`. ``rows`` are
:func:`diffinv.run.records.collect`'s; every number comes from the runs' ``metrics.json`` and
``config.yaml``."""

from __future__ import annotations

from pathlib import Path

from diffinv.run.files import write_text

# column -> metric key (without the sampler's prefix) and its format; columns no row has are left out
COLUMNS = {
    "error (prior std)": ("err/mean", "{:.4f}"),
    "rmse": ("rmse", "{:.4g}"),
    "post std": ("post_std/mean", "{:.4g}"),
    "prior std": ("prior_std/mean", "{:.4g}"),
    "cov 1σ": ("coverage/1sigma", "{:.3f}"),
    "cov 2σ": ("coverage/2sigma", "{:.3f}"),
    "std ratio": ("exact/std_ratio", "{:.3f}"),
    "mean-err ratio": ("exact/mean_err_ratio", "{:.3f}"),
    "W1/std": ("exact/w1_over_std", "{:.3f}"),
    "SBC p": ("sbc/p_min_bonferroni", "{:.2g}"),
    "TARP p": ("tarp/p", "{:.2g}"),
    "PPC p": ("ppc/p", "{:.2g}"),
    "calls": ("calls_per_sample", "{:.0f}"),
    "sample s": ("time/sample_s", "{:.1f}"),
}


def report(rows: list[dict], directory: Path, out: Path) -> str:
    columns = {c: (k, f) for c, (k, f) in COLUMNS.items() if any(k in r for r in rows)}
    settings = ["settings"] if any(r["settings"] for r in rows) else []  # the values the runs differ in
    head = ["problem", "formulation", "sampler", *settings, "noise", *columns, "run"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in sorted(rows, key=lambda r: (r["problem"], r["formulation"], r["sampler"], r["noise"])):
        cells = [r["problem"], r["formulation"], r["sampler"], *([r["settings"]] if settings else [])]
        cells += [r["noise_label"]]
        cells += [form.format(r[key]) if key in r else "–" for key, form in columns.values()]
        lines.append("| " + " | ".join([*cells, f"`{r['run'].name}`"]) + " |")
    text = "\n\n".join(
        [
            f"# Posterior report for `{directory}`",
            "Per run and sampler: the error of the posterior mean in units of the truth's spread over the "
            "test set (0 is perfect, about 0.8 no better than the prior mean), its root mean square, the "
            "mean "
            "posterior and prior std, the ±1σ/±2σ coverage, the ratios to the exact posterior where the "
            "problem is linear–Gaussian, and the calibration diagnostics' p-values (below 0.01: fails; "
            "docs/usage.md §16).",
            "\n".join(lines),
        ]
    )
    write_text(out / "report.md", text + "\n")
    return text
