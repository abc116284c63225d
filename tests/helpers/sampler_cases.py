"""Fixed sampler calls whose outputs are pinned in ``tests/core/data/sampler_reference.npz``: every public
sampler with its options, on the exact score of a Gaussian mixture (docs/math.md §9.2), seeded.

The file was written by the samplers as they were before the k-diffusion-shaped rewrite (commit 671314e), so
``tests/core/test_sampler_regression.py`` proves the rewrite draws the same samples for the same seed. The
samplers then stopped at the time t_eps = 1e-3 without a final step (or with Tweedie's, ``denoise=True``); the
cases ask for exactly that (``t_eps=1e-3``, ``final_step="none"``/``"tweedie"``), so the file stays valid:

    python -m tests.helpers.sampler_cases tests/core/data/sampler_reference.npz
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable

import numpy as np
import torch

from diffinv.core import samplers as S
from tests.conftest import FORMULATIONS
from tests.helpers.closed_forms import mixture_2d

MIXTURE = mixture_2d()


def _at_paper_t_eps(form):
    """``form`` ending at the time t_eps = 1e-3, as every sampler did before docs/math.md §5.4."""
    names = inspect.signature(type(form)).parameters
    return type(form)(**{k: getattr(form, k) for k in names if k not in ("sigma_eps", "t_eps")}, t_eps=1e-3)


PAPER_END = {name: _at_paper_t_eps(form) for name, form in FORMULATIONS.items()}
N = 64  # samples per case

# name -> (sampler, keywords); "generator" is bound to the case's seeded generator. Every case ends as the
# samplers did when the file was written: at t_eps = 1e-3 (PAPER_END), with Tweedie's step where it says so.
NONE, TWEEDIE = {"final_step": "none"}, {"final_step": "tweedie"}
CASES: dict[str, tuple[Callable, dict]] = {
    "sde": (S.sample_sde, {"steps": 30, "generator": True, "schedule": "uniform"} | NONE),
    "sde_lam0.5_karras": (
        S.sample_sde,
        {"steps": 30, "lam": 0.5, "generator": True, "schedule": "karras"} | NONE,
    ),
    "sde_lam0_logsnr": (S.sample_sde, {"steps": 30, "lam": 0.0, "schedule": "logsnr"} | NONE),
    "sde_denoise": (S.sample_sde, {"steps": 30, "generator": True, "schedule": "uniform"} | TWEEDIE),
    "ode_rk45": (S.sample_ode, {"rtol": 1e-4, "atol": 1e-4} | NONE),
    "ode_rk45_denoise": (S.sample_ode, {"rtol": 1e-4, "atol": 1e-4} | TWEEDIE),
    "heun_karras": (S.sample_heun, {"steps": 12} | NONE),
    "heun_uniform_rho3": (S.sample_heun, {"steps": 12, "schedule": "uniform", "rho": 3.0} | NONE),
    "heun_logsnr_denoise": (S.sample_heun, {"steps": 12, "schedule": "logsnr"} | TWEEDIE),
    "2m": (S.sample_dpmpp_2m, {"steps": 15} | NONE),
    "2m_heun_karras": (S.sample_dpmpp_2m, {"steps": 15, "schedule": "karras", "solver_type": "heun"} | NONE),
    "2m_uniform_noratio": (
        S.sample_dpmpp_2m,
        {"steps": 15, "schedule": "uniform", "max_step_ratio": float("inf")} | NONE,
    ),
    "3m": (S.sample_dpmpp_3m, {"steps": 15} | NONE),
    "3m_karras_rho5": (S.sample_dpmpp_3m, {"steps": 15, "schedule": "karras", "rho": 5.0} | NONE),
    "3m_uniform_denoise": (S.sample_dpmpp_3m, {"steps": 15, "schedule": "uniform"} | TWEEDIE),
    "2m_sde": (S.sample_dpmpp_2m_sde, {"steps": 15, "generator": True} | NONE),
    "2m_sde_lam0.5_heun": (
        S.sample_dpmpp_2m_sde,
        {"steps": 15, "lam": 0.5, "solver_type": "heun", "generator": True} | NONE,
    ),
    "2m_sde_karras_ratio1.5": (
        S.sample_dpmpp_2m_sde,
        {"steps": 15, "schedule": "karras", "max_step_ratio": 1.5, "generator": True} | NONE,
    ),
}
DTYPES = {"f64": torch.float64, "f32": torch.float32}


def run_case(case: str, form: str, dtype: str) -> np.ndarray:
    """The samples of ``CASES[case]`` on ``FORMULATIONS[form]`` in ``dtype``: x_T and the noise seeded."""
    formulation, dt = PAPER_END[form], DTYPES[dtype]
    x_T = formulation.prior_sample((N, 2), generator=torch.Generator().manual_seed(1), dtype=dt)

    def score(x, t):
        return MIXTURE.score(x.double(), t.double(), formulation).to(dt)

    sampler, keywords = CASES[case]
    if keywords.get("generator"):
        keywords = keywords | {"generator": torch.Generator().manual_seed(2)}
    x = sampler(score, formulation, x_T, **keywords)
    return x.detach().numpy()


def all_keys() -> list[tuple[str, str, str]]:
    return [(c, f, d) for c in CASES for f in FORMULATIONS for d in DTYPES]


if __name__ == "__main__":
    torch.set_num_threads(1)
    np.savez_compressed(sys.argv[1], **{"/".join(key): run_case(*key) for key in all_keys()})
