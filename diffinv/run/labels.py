"""The names a run shows — in ``train.log``, figure titles, the W&B run name and reports (docs/usage.md §3).
Each concept is formatted by one function: the formulation by :attr:`Formulation.label
<diffinv.core.formulations.Formulation.label>` (``VP-κ=2``, ``VE σ_max=5``), a sampler by
:func:`sampler_label` (``DPM-Solver++(3M) 20 steps logsnr``), the noise by :func:`noise_label`
(``noise 5 % (σ_n = 5.88)``); :func:`run_label` joins them."""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Mapping

from hydra.utils import instantiate

from diffinv.core import samplers

SEPARATOR = " · "
ASCII = {"κ": "kappa", "σ": "sigma", "β": "beta", "λ": "lambda", "ρ": "rho"}
SAMPLER_NAMES = {
    samplers.sample_ode: "ODE",
    samplers.sample_sde: "SDE",
    samplers.sample_heun: "Heun",
    samplers.sample_dpmpp_2m: "DPM-Solver++(2M)",
    samplers.sample_dpmpp_3m: "DPM-Solver++(3M)",
    samplers.sample_dpmpp_2m_sde: "SDE-DPM-Solver++(2M)",
}
HEADLINE = ("method", "steps", "schedule")  # shown first, without their keys
NOT_SETTINGS = ("generator", "progress", "grad")  # how a call runs, not what it computes
SYMBOLS = {"lam": "λ", "rho": "ρ"}


def sampler_label(sampler: functools.partial) -> str:
    """A sampler with its settings: ``ODE rk45``, ``SDE 500 steps uniform``, ``DPM-Solver++(3M) 20 steps
    logsnr``, ``SDE 1000 steps logsnr λ=0.5``.

    ``sampler`` is a sampler function with its keywords bound (what a ``sampler`` config node instantiates
    to). Shown: the method (ODE), the step count, the step schedule, then every other keyword whose value
    differs from the function's default. A keyword bound to None is unset (a run recorded when
    ``sample_ode`` still took ``steps: null``).
    """
    func = sampler.func
    defaults = {
        key: p.default for key, p in inspect.signature(func).parameters.items() if p.default is not p.empty
    }
    settings = defaults | {key: value for key, value in sampler.keywords.items() if value is not None}
    parts = [SAMPLER_NAMES.get(func, func.__name__)]
    if "method" in settings:
        parts.append(str(settings["method"]))
    if "steps" in settings:
        parts.append(f"{settings['steps']} steps")
    if "schedule" in settings:
        parts.append(str(settings["schedule"]))
    for key, value in settings.items():
        if key not in HEADLINE + NOT_SETTINGS and (key not in defaults or value != defaults[key]):
            parts.append(_setting(key, value))
    return " ".join(parts)


def _setting(key: str, value) -> str:
    symbol = SYMBOLS.get(key, key)
    if value is True:
        return symbol
    return f"{symbol}={value:g}" if isinstance(value, float) else f"{symbol}={value}"


def noise_label(fraction, std: float | None = None) -> str:
    """``noise 5 % (σ_n = 5.88)``: ``data.noise``, the fraction of the training set's mean |clean reading|
    (docs/problems.md §2.4), as a percentage, and the absolute σ_n in the readings' units where known;
    ``noise 1–50 %`` for the range of an amortized model (docs/math.md §19)."""
    if hasattr(fraction, "__len__"):  # a range (list, tuple or a config's list)
        low, high = fraction
        return f"noise {100 * low:.3g}–{100 * high:.3g} %"
    text = f"noise {100 * fraction:.3g} %"
    return text if std is None else f"{text} (σ_n = {std:.3g})"


def join_labels(*parts: str) -> str:
    """``tanh · VP-κ=2 · ODE rk45``: the non-empty parts."""
    return SEPARATOR.join(part for part in parts if part)


def run_label(problem: str, formulation, samplers) -> str:
    """A run's name: the problem, the formulation object's label and the labels of the sampler functions
    (``samplers``: the bound sampler functions, joined by ``+``)."""
    return join_labels(problem, formulation.label, " + ".join(sampler_label(s) for s in samplers))


def config_labels(config: Mapping) -> tuple[str, dict[str, str]]:
    """The formulation label and, by name, the sampler labels of a run's config (a config node or the dict
    of its ``config.yaml``): the formulation and each sampler are built as the run built them."""
    samplers = {name: sampler_label(instantiate(node)) for name, node in config["sampler"].items()}
    return instantiate(config["formulation"]).label, samplers


def file_stem(label: str) -> str:
    """A label as a file name: Greek letters spelled out, anything but letters, digits, ``.`` and ``-``
    turned into ``_`` (``advdiff · VP-κ=2 · SDE 500 steps logsnr`` →
    ``advdiff_VP-kappa_2_SDE_500_steps_logsnr``)."""
    text = "".join(ASCII.get(c, c) for c in label)
    return re.sub(r"[^A-Za-z0-9.-]+", "_", text).strip("_")
