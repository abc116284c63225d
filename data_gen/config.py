"""OmegaConf resolvers used by the ``conf/data_gen`` tree; registered by every data_gen entry point."""

from __future__ import annotations

from omegaconf import OmegaConf


def register_resolvers() -> None:
    """``${data_gen.noclip_suffix:${problem.clip}}`` → ``""`` or ``"_noclip"`` (file names never collide)."""
    OmegaConf.register_new_resolver(
        "data_gen.noclip_suffix", lambda clip: "" if clip else "_noclip", replace=True
    )
