"""The exact-score sampler tests' budgets under their seed rule (tests/core/test_fast_samplers.py): the
largest z-score of every sampler × schedule × step count × formulation at ten seeds.

    python -m benchmarks.sampler_budgets                    # every group (~40 min on a shared core)
    python -m benchmarks.sampler_budgets --groups cdf_1d    # some groups, merged into the saved JSON
    python -m benchmarks.sampler_budgets --groups fixed --samplers ode_euler  # one sampler of a group
    python -m benchmarks.sampler_budgets --quick            # seeds 0-1, steps 10 and 40, VE and VP; not saved

Each run is the tests' own, imported from them: N = 20,000 samples by one sampler on an exact score, x_T and
the sampler's noise from one generator seeded 0..9 (tests/helpers/closed_forms.py ``sample_mixture``,
``sample_conditional``), scored by the tests' statistic: the largest |error| / standard error over the
means, covariance entries and component weights of the law at t_eps (``mixture_z_scores``,
``gaussian_z_scores``) or over the CDF at 9 points (``cdf_z_score``). Groups:

- ``floor``: independent exact samples of the 2-D mixture at t_eps: the statistic with no sampler error (the
  largest of about 9 |z|; 4 is exceeded with probability about 5e-4 per draw);
- ``grid``: the fast samplers of tests/core/test_fast_samplers.py, every schedule, up its ``GRID`` until a
  step count passes (z <= 4 for every formulation at every seed), one step count beyond, and the shipped
  step count (``SHIPPED``); ``budgets``: the smallest that passes (null: none on the grid);
- ``conditional``: x | y* of the jointly Gaussian (x, y), three y* at once, VE and VP (the conditional tests
  of both modules): Euler–Maruyama 500 from the prior, and the four fast samplers of the fast test from the
  exact p_T, up the grid from their mixture budgets as ``grid``;
- ``fixed``: the 2-D mixture by the samplers of tests/core/test_samplers_exact.py at their step counts
  (``sde_lam1``, Euler–Maruyama 500, is the shipped ``sampler=euler_maruyama``);
- ``cdf_1d``: the 1-D mixture's CDF test of tests/core/test_samplers_exact.py (``CDF_SAMPLERS``), and the
  shipped Euler–Maruyama 500 (``sde_lam1``), which that test cannot use.

One torch thread. The JSON (this folder, sampler_budgets.json) holds
z[group][sampler][schedule][steps][formulation] = [largest z at seed 0, ..., 9] (2 decimals).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from tests.conftest import FORMULATIONS
from tests.core import test_fast_samplers as fast
from tests.core import test_samplers_exact as exact
from tests.helpers.closed_forms import (
    cdf_z_score,
    gaussian_z_scores,
    mixture_1d,
    mixture_2d,
    mixture_z_scores,
    sample_conditional,
    sample_mixture,
)

OUT = Path(__file__).with_name("sampler_budgets.json")
N = fast.N
GROUPS = ("floor", "grid", "conditional", "fixed", "cdf_1d")
SEEDS = tuple(range(10))
Z_BUDGET = 4.0


def largest_z(run, form, seeds, problem="mixture_2d") -> list[float | None]:
    """The tests' largest z of one sampler at each seed (None: a non-finite sample) on ``problem``:
    mixture_2d, cdf_1d, conditional (x_T from the prior) or conditional_exact_start (from p_T)."""
    out = []
    for seed in seeds:
        with torch.inference_mode():
            if problem.startswith("conditional"):
                exact_start = problem == "conditional_exact_start"
                x, _, mu, C = sample_conditional(run, form, N, seed, exact_start)
                z = max(gaussian_z_scores(x, mu, C).values())
            elif problem == "cdf_1d":
                x, _ = sample_mixture(run, mixture_1d(), form, N, seed)
                z = cdf_z_score(x, mixture_1d())
            else:
                x, _ = sample_mixture(run, mixture_2d(), form, N, seed)
                z = max(mixture_z_scores(x, mixture_2d()).values())
        out.append(round(z, 2) if torch.isfinite(x).all() else None)
    return out


def floor(form, seeds) -> list[float]:
    """The largest z of an exact sample of the mixture at t_eps (x0 ~ mixture, x = m x0 + s z), per seed."""
    mixture = mixture_2d()
    t_eps = torch.tensor(form.t_eps, dtype=torch.float64)
    out = []
    for seed in seeds:
        gen = torch.Generator().manual_seed(seed)
        x0 = mixture.sample(N, gen)[0]
        x = form.m(t_eps) * x0 + form.s(t_eps) * torch.randn(x0.shape, generator=gen, dtype=torch.float64)
        out.append(round(max(mixture_z_scores(x, mixture).values()), 2))
    return out


def passes(z_by_form: dict[str, list]) -> bool:
    return all(z is not None and z <= Z_BUDGET for zs in z_by_form.values() for z in zs)


def worst(z_by_form: dict[str, list]) -> float:
    return max(float("inf") if z is None else z for zs in z_by_form.values() for z in zs)


def sweep(measure, grid, table, label, shipped, save) -> int | None:
    """``table[steps] = measure(steps)`` up the grid until a step count passes, one more beyond it, and the
    shipped step count; returns the smallest that passes (None: none on the grid)."""
    budget = None
    for steps in grid:
        table[steps] = measure(steps)
        print(f"{label:34s} {steps:3d}  largest z {worst(table[steps]):5.2f}", flush=True)
        save()
        if budget is not None and steps >= shipped:
            break
        if budget is None and passes(table[steps]):
            budget = steps
    return budget


def fast_run(name, schedule, steps):
    return lambda f, F, x, g: fast.SAMPLERS[name](f, F, x, steps, schedule, g)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", nargs="+", default=list(GROUPS), choices=GROUPS)
    parser.add_argument("--samplers", nargs="+", help="fixed, cdf_1d: only these (the others kept as saved)")
    parser.add_argument("--quick", action="store_true", help="seeds 0-1, steps 10, 40; VE, VP; not saved")
    args = parser.parse_args()
    torch.set_num_threads(1)
    seeds, grid = ((0, 1), (10, 40)) if args.quick else (SEEDS, fast.GRID)
    forms = {k: FORMULATIONS[k] for k in (("VE", "VP") if args.quick else FORMULATIONS)}
    two_forms = {k: forms[k] for k in ("VE", "VP")}
    saved = json.loads(OUT.read_text()) if OUT.exists() and not args.quick else {}
    result = {
        "rule": f"budget = smallest step count of the grid with largest z <= {Z_BUDGET} for every "
        "formulation at every seed; the tests run seeds 0, 1, 2 and fail at z >= 5",
        "samples": N,
        "seeds": list(seeds),
        "grid": list(grid),
        "formulations": {k: repr(f) for k, f in forms.items()},
        "z": saved.get("z", {}),
        "budgets": saved.get("budgets", {}),
        "seconds": saved.get("seconds", {}),
    }
    z = result["z"]

    def save():
        if not args.quick:
            OUT.write_text(json.dumps(result, indent=1) + "\n")

    for group in args.groups:
        start = time.perf_counter()
        z[group] = z.get(group, {}) if args.samplers else {}
        if group == "floor":
            z[group] = {k: floor(f, seeds) for k, f in forms.items()}
        elif group == "grid":
            for name in fast.SAMPLERS:
                for schedule in fast.SCHEDULES:
                    table = z[group].setdefault(name, {}).setdefault(schedule, {})

                    def measure(steps, name=name, schedule=schedule):
                        run = fast_run(name, schedule, steps)
                        return {k: largest_z(run, form, seeds) for k, form in forms.items()}

                    shipped = fast.SHIPPED.get((name, schedule), 0)
                    budget = sweep(measure, grid, table, f"{name} {schedule}", shipped, save)
                    result["budgets"][f"{name} {schedule}"] = budget
                    print(f"{name} {schedule}: budget {budget}", flush=True)
        elif group == "conditional":
            run = exact.SAMPLERS["sde_lam1"]
            z[group]["sde_lam1"] = {k: largest_z(run, f, seeds, "conditional") for k, f in two_forms.items()}
            print(f"conditional sde_lam1  largest z {worst(z[group]['sde_lam1']):5.2f}", flush=True)
            for name, schedule in fast.CONDITIONAL:
                table = z[group].setdefault(name, {}).setdefault(schedule, {})

                def measure(steps, name=name, schedule=schedule):
                    run = fast_run(name, schedule, steps)
                    return {
                        k: largest_z(run, form, seeds, "conditional_exact_start")
                        for k, form in two_forms.items()
                    }

                start_at = result["budgets"].get(f"{name} {schedule}") or grid[0]
                steps = [n for n in grid if n >= start_at]
                sweep(measure, steps, table, f"conditional {name} {schedule}", 0, save)
        else:  # fixed, cdf_1d: the samplers of test_samplers_exact (cdf_1d: and the shipped sde_lam1)
            samplers = (
                exact.SAMPLERS
                if group == "fixed"
                else exact.CDF_SAMPLERS | {"sde_lam1": exact.SAMPLERS["sde_lam1"]}
            )
            problem = "mixture_2d" if group == "fixed" else group
            for name, run in samplers.items():
                if args.samplers and name not in args.samplers:
                    continue
                z[group][name] = {k: largest_z(run, form, seeds, problem) for k, form in forms.items()}
                print(f"{group} {name:12s} largest z {worst(z[group][name]):5.2f}", flush=True)
                save()
        result["seconds"][group] = round(time.perf_counter() - start)
        save()


if __name__ == "__main__":
    main()
