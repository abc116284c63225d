"""The mesh-convergence study and the sample figures run end to end on coarse meshes."""

import pytest

from data_gen.config import compose_config
from data_gen.fem.convergence import study, table
from data_gen.fem.figures import plot_samples

pytestmark = pytest.mark.fem


def test_convergence_changes_shrink_under_refinement():
    cfg = compose_config(
        "convergence.meshes=[43x10,85x20,170x40]", "convergence.samples=2", config_name="convergence"
    )
    rows = study(cfg)
    assert [r["mesh"] for r in rows] == ["43x10", "85x20", "170x40"]
    assert rows[0]["change"] > rows[1]["change"] > 0
    assert rows[0]["worst_sensor"] > 0.05 > rows[1]["worst_sensor"]
    assert table(rows, 0.05).endswith("every reading within 5.0% of the next finer: 85x20")
    assert table(rows, 1e-9).endswith("every reading within 0.0% of the next finer: none")


def test_figure_is_written_as_png(tmp_path):
    cfg = compose_config(
        "problem=advdiff_multiop", "problem.mesh=43x10", "figures.samples=2", f"figures.out_dir={tmp_path}",
        config_name="figures",
    )  # fmt: skip
    path = plot_samples(cfg)
    assert path == tmp_path / "advdiff_multiop_samples.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 20_000
