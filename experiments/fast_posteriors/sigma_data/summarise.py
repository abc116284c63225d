"""Collect the σ_d study's runs (run.sh) into results.json and print the README's table.

python experiments/fast_posteriors/sigma_data/summarise.py [outputs/sigma_data]
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).parent
KEYS = {"std": "exact/std_ratio", "mean_err": "exact/mean_err_ratio", "cov1": "coverage/1sigma"}
ARMS = {
    "A": "A: min–max, σ_d centred (today)",
    "B": "B: min–max, σ_d uncentred",
    "C": "C: x centred",
    "D": "D: x offset −1 std, σ_d centred",
    "E": "E: x offset −1 std, σ_d uncentred",
}


def collect(root: Path) -> list[dict]:
    rows = []
    for run in sorted(root.glob("*_noise*_seed*")):
        if not (run / "metrics.json").exists():
            continue
        arm, noise, seed = re.fullmatch(r"(\w)_noise([\d.]+)_seed(\d+)", run.name).groups()
        metrics = json.loads((run / "metrics.json").read_text())
        config = yaml.safe_load((run / "config.yaml").read_text())
        row = {"arm": arm, "noise": float(noise), "seed": int(seed)}
        row |= {"sigma_data": config["loss"]["sigma_data"], "train_s": metrics["time/train_s"]}
        for sampler in ("ode", "sde"):
            row |= {f"{sampler}/{k}": metrics[f"{sampler}/{key}"] for k, key in KEYS.items()}
        rows.append(row)
    return rows


def table(rows: list[dict]) -> str:
    head = (
        "| arm | noise | seed | σ_d | 3M std ratio | 3M mean-err ratio | 3M ±1σ "
        "| SDE-2M std ratio | SDE-2M mean-err ratio | SDE-2M ±1σ |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in sorted(rows, key=lambda r: (r["noise"], r["seed"], r["arm"])):
        cells = [ARMS[r["arm"]], f"{r['noise']:g}", str(r["seed"]), f"{r['sigma_data']:.4f}"]
        cells += [f"{r[f'{s}/{k}']:.3f}" for s in ("ode", "sde") for k in KEYS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    rows = collect(Path(sys.argv[1] if len(sys.argv) > 1 else "outputs/sigma_data"))
    (HERE / "results.json").write_text(json.dumps(rows, indent=1) + "\n")
    print(table(rows))
