"""Convergence of MCMC reference files, per case and per parameter (docs/math.md §18.3).

For each reference file: a markdown table with one row per case (converged, steps, forward solves, acceptance,
largest split-R̂ and smallest bulk ESS over the 30 latent fluxes and over the fluxes q, CPU seconds), printed,
and a CSV with every (case, parameter) R̂ and ESS next to this script (``<file stem>_diagnostics.csv``).

    python experiments/mcmc_reference/diagnostics_table.py data/adr_reference_noise0.05.h5 [...]
"""

import sys
from pathlib import Path

import numpy as np

from diffinv.data.reference import read_reference

HERE = Path(__file__).parent


def case_table(path: str) -> str:
    ref = read_reference(path)
    a = ref.arrays
    head = "| case | converged | steps | solves | acceptance | max R̂ (z / q) | min ESS (z / q) | CPU s |"
    lines = [
        f"{ref.path.name}: σ_n = {ref.noise_std:.4g} (noise {ref.attrs['noise']})",
        "",
        head,
        "|---" * 8 + "|",
    ]
    for i, case in enumerate(ref.case_index):
        lines.append(
            f"| {case} | {'yes' if a['converged'][i] else '**no**'} | {a['steps'][i]} "
            f"| {a['forward_solves'][i]:,} | {a['acceptance'][i]:.2f} "
            f"| {a['rhat'][i].max():.4f} / {np.nanmax(a['rhat_physical'][i]):.4f} "
            f"| {a['ess_bulk'][i].min():,.0f} / {np.nanmin(a['ess_bulk_physical'][i]):,.0f} "
            f"| {a['cpu_s'][i]:.0f} |"
        )
    rows = [
        f"{case},{j},{a['rhat'][i, j]:.5f},{a['ess_bulk'][i, j]:.1f},"
        f"{a['rhat_physical'][i, j]:.5f},{a['ess_bulk_physical'][i, j]:.1f}"
        for i, case in enumerate(ref.case_index)
        for j in range(a["rhat"].shape[1])
    ]
    csv = HERE / f"{ref.path.stem}_diagnostics.csv"
    csv.write_text("case,parameter,rhat_z,ess_bulk_z,rhat_q,ess_bulk_q\n" + "\n".join(rows) + "\n")
    lines += ["", f"every parameter: {csv.relative_to(HERE.parent.parent)}"]
    return "\n".join(lines)


if __name__ == "__main__":
    print("\n\n".join(case_table(path) for path in sys.argv[1:]))
