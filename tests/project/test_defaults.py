"""The defaults table (docs/usage.md §15) holds: every row's key, in the config its command composes from
``conf/`` (Hydra's compose API, as the entry point composes it), has the row's value. The table is parsed, so
a row is never skipped: a key that is missing, or a value that differs, fails its row."""

from __future__ import annotations

import functools
import re

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, ListConfig, OmegaConf

from diffinv.core.samplers import CountingScore
from tests.helpers.runs import ROOT, compose_config

PAGE = ROOT / "docs" / "usage.md"
SECTION = re.compile(r"^## \d+\. Defaults$")
CONFIG_OF = {"train": "train", "evaluate": "eval", "infer": "infer"}  # python -m diffinv.<command>
MISSING = object()

# What the table must name (docs/usage.md §15): a row deleted from the table fails here, not silently.
REQUIRED_KEYS = {
    "model._target_", "model.sigma_data", "loss.weighting", "loss.t_sampling", "loss.p_mean", "loss.p_std",
    "loss.sigma_data", "optimizer.lr", "lr_scheduler._target_", "lr_scheduler.warmup", "list(callbacks)",
    "callbacks.ema.decay", "data.batch_size", "trainer.max_epochs", "list(sampler)", "sampler.ode._target_",
    "sampler.ode.steps", "sampler.ode.schedule", "calls(sampler.ode)", "sampler.sde._target_",
    "sampler.sde.steps", "sampler.sde.schedule", "calls(sampler.sde)", "instantiate(formulation).sigma_eps",
    "sampler.ode.final_step", "sampler.sde.final_step",
    "instantiate(formulation).T", "evaluation.n_samples", "evaluation.chunk_size", "chunk_size",
    "torch_threads",
}  # fmt: skip


def table_rows() -> list[dict[str, str]]:
    """The rows of the section's table, as ``{column: cell}``, backticks removed."""
    lines = PAGE.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if SECTION.match(line))
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    table = [line for line in lines[start:end] if line.startswith("|")]
    split = ([cell.strip().replace("`", "") for cell in line.strip("|").split("|")] for line in table)
    header, rule, *body = split
    assert set(rule) == {"---"}, f"not a markdown table: {rule}"
    for cells in body:
        assert len(cells) == len(header), f"{len(cells)} cells, the header has {len(header)}: {cells}"
    return [dict(zip(header, cells, strict=True)) for cells in body]


ROWS = table_rows()


@functools.cache
def composed(command: str) -> DictConfig:
    entry, *overrides = command.split()
    return compose_config(CONFIG_OF[entry], *overrides)


def calls_per_sample(cfg: DictConfig, key: str) -> int:
    """Network calls of the sampler ``key`` on one point with a zero score (a dry run, as at start-up),
    counted by the samplers' own :class:`~diffinv.core.samplers.CountingScore`."""
    score = CountingScore(lambda x, t: torch.zeros_like(x))
    instantiate(select(cfg, key))(score, instantiate(cfg.formulation), torch.zeros(1, 1, dtype=torch.float64))
    return score.calls


def select(cfg: DictConfig, key: str):
    value = OmegaConf.select(cfg, key, default=MISSING)
    assert value is not MISSING, f"{key} is not in the composed config"
    return value


def read(cfg: DictConfig, key: str):
    """The value of a table key: a config key, or ``list(K)``, ``has(K)``, ``instantiate(K).attr``,
    ``calls(K)`` (docs/usage.md §15)."""
    if m := re.fullmatch(r"list\((.+)\)", key):
        return list(select(cfg, m[1]))
    if m := re.fullmatch(r"has\((.+)\)", key):
        return OmegaConf.select(cfg, m[1], default=MISSING) is not MISSING
    if m := re.fullmatch(r"instantiate\((.+)\)\.(\w+)", key):
        return getattr(instantiate(select(cfg, m[1])), m[2])
    if m := re.fullmatch(r"calls\((.+)\)", key):
        return calls_per_sample(cfg, m[1])
    value = select(cfg, key)
    return OmegaConf.to_container(value) if isinstance(value, DictConfig | ListConfig) else value


def parse(text: str):
    """A table cell as the config's YAML reads it (``1.0e-5``, ``[ode, sde]``, ``null``, ``false``)."""
    value = OmegaConf.create(f"v: {text}").v
    return OmegaConf.to_container(value) if isinstance(value, ListConfig) else value


def test_the_table_is_there_and_names_what_a_user_must_know():
    assert len(ROWS) > 50
    missing = REQUIRED_KEYS - {row["key"] for row in ROWS}
    assert not missing, f"docs/usage.md §15 has no row for {sorted(missing)}"
    assert all(row["command"].split()[0] in CONFIG_OF for row in ROWS)


@pytest.mark.parametrize("row", ROWS, ids=lambda row: f"{row['command']} {row['key']}")
def test_every_row_holds(row):
    actual, expected = read(composed(row["command"]), row["key"]), parse(row["value"])
    assert actual == expected and isinstance(actual, bool) == isinstance(expected, bool), (
        f"docs/usage.md §15, '{row['setting']}': python -m diffinv.{row['command']} has {row['key']} = "
        f"{actual!r}, the table says {expected!r}"
    )


@pytest.mark.parametrize(
    ("text", "value"),
    [("0.01", 0.01), ("1.0e-5", 1e-5), ("-1.2", -1.2), ("1000", 1000), ("[ode, sde]", ["ode", "sde"]),
     ("null", None), ("false", False), ("auto", "auto"), ("torch.optim.Adam", "torch.optim.Adam")],
)  # fmt: skip
def test_cells_read_as_the_config_reads_them(text, value):
    parsed = parse(text)
    assert parsed == value and type(parsed) is type(value)
