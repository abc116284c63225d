"""Fixed sampler calls whose outputs are pinned in ``tests/core/data/sampler_reference.npz``: every public
sampler with its options, on the exact score of a Gaussian mixture (docs/math.md §9.2), seeded.

The file was written by the samplers as they were before the k-diffusion-shaped rewrite (commit 671314e), so
``tests/core/test_sampler_regression.py`` proves the rewrite draws the same samples for the same seed:

    python -m tests.helpers.sampler_cases tests/core/data/sampler_reference.npz
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import numpy as np
import torch

from diffinv.core import samplers as S
from tests.conftest import FORMULATIONS
from tests.helpers.closed_forms import mixture_2d

MIXTURE = mixture_2d()
N = 64  # samples per case

# name -> sampler call (score, formulation, x_T, generator) -> x
CASES: dict[str, Callable] = {
    "sde": lambda f, F, x, g: S.sample_sde(f, F, x, 30, generator=g),
    "sde_lam0.5_karras": lambda f, F, x, g: S.sample_sde(
        f, F, x, 30, lam=0.5, generator=g, schedule="karras"
    ),
    "sde_lam0_logsnr": lambda f, F, x, g: S.sample_sde(f, F, x, 30, lam=0.0, schedule="logsnr"),
    "sde_denoise": lambda f, F, x, g: S.sample_sde(f, F, x, 30, generator=g, denoise=True),
    "ode_rk45": lambda f, F, x, g: S.sample_ode(f, F, x, rtol=1e-4, atol=1e-4),
    "ode_rk45_denoise": lambda f, F, x, g: S.sample_ode(f, F, x, rtol=1e-4, atol=1e-4, denoise=True),
    "heun_karras": lambda f, F, x, g: S.sample_heun(f, F, x, steps=12),
    "heun_uniform_rho3": lambda f, F, x, g: S.sample_heun(f, F, x, steps=12, schedule="uniform", rho=3.0),
    "heun_logsnr_denoise": lambda f, F, x, g: S.sample_heun(
        f, F, x, steps=12, schedule="logsnr", denoise=True
    ),
    "2m": lambda f, F, x, g: S.sample_dpmpp_2m(f, F, x, steps=15),
    "2m_heun_karras": lambda f, F, x, g: S.sample_dpmpp_2m(
        f, F, x, steps=15, schedule="karras", solver_type="heun"
    ),
    "2m_uniform_noratio": lambda f, F, x, g: S.sample_dpmpp_2m(
        f, F, x, steps=15, schedule="uniform", max_step_ratio=float("inf")
    ),
    "3m": lambda f, F, x, g: S.sample_dpmpp_3m(f, F, x, steps=15),
    "3m_karras_rho5": lambda f, F, x, g: S.sample_dpmpp_3m(f, F, x, steps=15, schedule="karras", rho=5.0),
    "3m_uniform_denoise": lambda f, F, x, g: S.sample_dpmpp_3m(
        f, F, x, steps=15, schedule="uniform", denoise=True
    ),
    "2m_sde": lambda f, F, x, g: S.sample_dpmpp_2m_sde(f, F, x, steps=15, generator=g),
    "2m_sde_lam0.5_heun": lambda f, F, x, g: S.sample_dpmpp_2m_sde(
        f, F, x, steps=15, lam=0.5, solver_type="heun", generator=g
    ),
    "2m_sde_karras_ratio1.5": lambda f, F, x, g: S.sample_dpmpp_2m_sde(
        f, F, x, steps=15, schedule="karras", max_step_ratio=1.5, generator=g
    ),
}
DTYPES = {"f64": torch.float64, "f32": torch.float32}


def run_case(case: str, form: str, dtype: str) -> np.ndarray:
    """The samples of ``CASES[case]`` on ``FORMULATIONS[form]`` in ``dtype``: x_T and the noise seeded."""
    formulation, dt = FORMULATIONS[form], DTYPES[dtype]
    x_T = formulation.prior_sample((N, 2), generator=torch.Generator().manual_seed(1), dtype=dt)

    def score(x, t):
        return MIXTURE.score(x.double(), t.double(), formulation).to(dt)

    x = CASES[case](score, formulation, x_T, torch.Generator().manual_seed(2))
    return x.detach().numpy()


def all_keys() -> list[tuple[str, str, str]]:
    return [(c, f, d) for c in CASES for f in FORMULATIONS for d in DTYPES]


if __name__ == "__main__":
    torch.set_num_threads(1)
    np.savez_compressed(sys.argv[1], **{"/".join(key): run_case(*key) for key in all_keys()})
