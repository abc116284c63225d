"""GPU smoke test (marker ``gpu``, deselected by default; skipped without CUDA): a few training steps of
the Lightning path and one batched sampling run on the device."""

from functools import partial

import numpy as np
import pytest
import pytorch_lightning as pl
import torch

from diffinv.core.formulations import VE
from diffinv.core.networks import ScoreMLP
from diffinv.core.samplers import conditional_score, sample_ode, sample_sde
from diffinv.data.datamodule import PairedDataModule
from diffinv.data.schema import Split, write_dataset
from diffinv.training.module import ScoreModule

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


def test_train_and_sample_on_cuda(tmp_path):
    rng = np.random.default_rng(0)
    splits = {
        name: Split(x=rng.normal(size=(n, 30)), y_clean=rng.normal(size=(n, 30)))
        for name, n in (("train", 3000), ("test", 10))
    }
    path = write_dataset(tmp_path / "pairs.h5", splits)
    form = VE(0.001, 5.0)
    module = ScoreModule(ScoreMLP(30, 30, width=256, depth=4), form, partial(torch.optim.Adam, lr=1e-3))
    dm = PairedDataModule(str(path), batch_size=1000, noise=0.05, normalisation="minmax")
    trainer = pl.Trainer(
        accelerator="gpu", devices=1, max_steps=6, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path,
    )  # fmt: skip
    trainer.fit(module, datamodule=dm)
    assert trainer.global_step == 6
    net = module.network.cuda().eval()
    assert next(net.parameters()).is_cuda

    y = torch.rand(8, 1, 30, device="cuda") * 2 - 1
    x_T = form.prior_sample((8, 500, 30), device="cuda")
    with torch.inference_mode():
        score = conditional_score(net, form, y)
        for x in (sample_ode(score, form, x_T, rtol=1e-4, atol=1e-4), sample_sde(score, form, x_T, steps=50)):
            assert x.shape == (8, 500, 30) and x.is_cuda and torch.isfinite(x).all()


def test_the_field_network_trains_and_samples_on_cuda():
    """The U-Net of docs/math.md §7.4 (the heat-field example's grid and sensors): a few optimiser steps and a
    batched sampling run on the device."""
    from diffinv.core.losses import dsm_loss
    from diffinv.core.networks import ScoreUNet
    from diffinv.core.precondition import EDMPrecond

    lattice = (np.arange(7) + 1.0) / 8
    sensors = np.stack(np.meshgrid(lattice, lattice, indexing="ij"), axis=-1).reshape(-1, 2).tolist()
    form = VE(0.002, 20.0)
    net = EDMPrecond(ScoreUNet(256, 49, grid=[16, 16], sensors=sensors), form).cuda()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    x, y = torch.randn(256, 256, device="cuda"), torch.randn(256, 49, device="cuda")
    for _ in range(3):
        optimizer.zero_grad()
        loss = dsm_loss(net, form, x, y)
        loss.backward()
        optimizer.step()
    assert torch.isfinite(loss)
    x_T = form.prior_sample((4, 100, 256), device="cuda")
    with torch.inference_mode():
        samples = sample_sde(conditional_score(net, form, y[:4, None, :]), form, x_T, steps=20)
    assert samples.shape == (4, 100, 256) and samples.is_cuda and torch.isfinite(samples).all()
