"""The OmegaConf resolvers the config tree uses (docs/design.md §5), registered in one place.

- ``${diffinv.either:${resume},<default>}``: the first argument unless it is null (run directories: a
  resumed run writes into its own directory);
- ``${diffinv.noclip_suffix:${problem.clip}}``: ``""`` or ``"_noclip"``, so the clipped and the
  linear–Gaussian variant of a flux dataset never share a file name;
- ``${diffinv.run_label:${problem.name},${formulation},${sampler}}``: the run's name with the formulation's
  parameters and the samplers' settings (:func:`diffinv.run.labels.run_label`; the W&B run name).
"""

from __future__ import annotations

from hydra.utils import instantiate
from omegaconf import OmegaConf

from diffinv.run.labels import run_label


def register_resolvers() -> None:
    OmegaConf.register_new_resolver(
        "diffinv.either", lambda value, default: default if value is None else value, replace=True
    )
    OmegaConf.register_new_resolver(
        "diffinv.noclip_suffix", lambda clip: "" if clip else "_noclip", replace=True
    )
    OmegaConf.register_new_resolver(
        "diffinv.run_label",
        lambda problem, formulation, sampler: run_label(
            problem, instantiate(formulation), [instantiate(node) for node in sampler.values()]
        ),
        replace=True,
    )
