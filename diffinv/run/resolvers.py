"""The OmegaConf resolvers the config tree uses (docs/design.md §5), registered in one place.

- ``${diffinv.either:${resume},<default>}``: the first argument unless it is null (run directories: a
  resumed run writes into its own directory);
- ``${diffinv.noclip_suffix:${problem.clip}}``: ``""`` or ``"_noclip"``, so the clipped and the
  linear–Gaussian variant of a flux dataset never share a file name.
"""

from __future__ import annotations

from omegaconf import OmegaConf


def register_resolvers() -> None:
    OmegaConf.register_new_resolver(
        "diffinv.either", lambda value, default: default if value is None else value, replace=True
    )
    OmegaConf.register_new_resolver(
        "diffinv.noclip_suffix", lambda clip: "" if clip else "_noclip", replace=True
    )
