"""docs/your_problem.md cannot go stale: its Python and YAML blocks are the files shipped in ``examples/``,
and its commands run as written (in a copy of each example's folder, with tiny sizes appended) from the YAML
and the module to posterior figures, scores and diagnostics, the exact posterior included (both examples
are linear–Gaussian)."""

import json
import re
import shlex
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.runs import ROOT, run_module

PAGE = ROOT / "docs" / "your_problem.md"
# appended to each command of the page: its sizes, not its meaning
TINY = {
    "data_gen": ["problem.simulator.n_train=300", "problem.simulator.n_test=12"],
    "diffinv.train": [
        "trainer.max_epochs=2",
        "data.batch_size=100",
        "problem.evaluator.n_test=6",
        "evaluation.n_samples=24",
        "problem.evaluator.ppc_samples=8",
        "problem.evaluator.n_figure_cases=2",
    ],  # fmt: skip
    "diffinv.infer": ["n_samples=16"],
}


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", PAGE.read_text(), flags=re.S)


def commands() -> list[tuple[str, list[list[str]]]]:
    """Per bash block: the example folder it changes into and its ``python -m`` commands."""
    out = []
    for block in blocks("bash"):
        lines = [shlex.split(line) for line in block.strip().splitlines()]
        (cd, folder), *rest = lines
        assert cd == "cd" and all(line[:2] == ["python", "-m"] for line in rest), block
        out.append((folder, [line[2:] for line in rest]))
    return out


@pytest.mark.parametrize("example", ["source_1d", "heat_field"])
def test_the_pages_code_is_the_shipped_code(example):
    shown = blocks("python") + blocks("yaml")
    for path in (
        ROOT / "examples" / example / f"{example}.py",
        ROOT / "examples" / example / "problem" / f"{example}.yaml",
    ):
        assert path.read_text().rstrip() + "\n" in shown, f"{path} is not shown verbatim in {PAGE.name}"


def test_the_pages_commands_run_from_module_and_yaml_to_scored_posteriors(tmp_path):
    copies = {}
    for folder, lines in commands():
        work = copies.setdefault(folder, tmp_path / Path(folder).name)
        if not work.exists():
            shutil.copytree(ROOT / folder, work)
        for module, *arguments in lines:
            run_module(module, *arguments, *TINY[module], cwd=work, timeout=600)
    assert set(copies) == {"examples/source_1d", "examples/heat_field"}
    for name, work in ((Path(f).name, w) for f, w in copies.items()):
        assert (work / "data" / f"{name}.h5").is_file()
        run = work / "runs" / name
        metrics = json.loads((run / "metrics.json").read_text())
        for sampler in ("ode", "sde"):
            for key in (
                "err/mean",
                "exact/std_ratio",
                "exact/mean_err_ratio",
                "sbc/p_min_bonferroni",
                "ppc/p",
            ):
                assert np.isfinite(metrics[f"{sampler}/{key}"]), (name, sampler, key)
            assert (run / "figures" / f"cases_{sampler}.png").is_file()
            assert (run / "figures" / f"diagnostics_{sampler}.png").is_file()
    infer = copies["examples/source_1d"] / "runs" / "readings"
    assert (infer / "samples.h5").is_file() and (infer / "figures" / "posterior.png").is_file()
