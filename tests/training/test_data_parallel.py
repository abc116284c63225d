"""Data-parallel training (docs/usage.md §11): ``ScoreModule.training_step`` on each process's share of a
batch (``ShuffledBatches``), simulated process by process without launching any, each process's random
generator seeded alike as DDP's are, gives after DDP's gradient averaging exactly the single-process step
on the whole batch (the same t and z draws), and logs its mean; uneven and empty shares included."""

from types import SimpleNamespace

import pytest
import torch

from diffinv.core.formulations import VE
from diffinv.core.losses import dsm_loss
from diffinv.core.networks import ScoreMLP
from diffinv.data.datamodule import ShuffledBatches
from diffinv.training.module import ScoreModule

X_DIM, Y_DIM = 3, 2


def shares(x, y, world_size):
    """The shares of one batch holding all of (x, y) that the processes 0 .. world_size - 1 receive."""
    out = []
    for rank in range(world_size):
        loader = ShuffledBatches(x, lambda epoch: y, None, len(x), 0, lambda: 0, rank, world_size)
        (batch,) = list(loader)
        out.append(batch)
    return out


def process_step(module, batch, rank, sizes, seed):
    """``training_step`` as process ``rank`` of ``len(sizes)`` runs it, its generator seeded with ``seed`` (as
    every DDP process's is), the all-gather of the share sizes giving ``sizes``; returns the loss's gradient
    and the (value, batch_size, sync_dist) it logs."""
    logged = {}
    module.trainer = SimpleNamespace(
        world_size=len(sizes),
        global_rank=rank,
        strategy=SimpleNamespace(all_gather=lambda n: torch.tensor(sizes)),
    )
    module.log = lambda name, value, **kw: logged.update(value=value, **kw)
    module.zero_grad()
    torch.manual_seed(seed)
    loss = module.training_step(batch, 0)
    loss.backward()
    return [p.grad.clone() for p in module.parameters()], logged


@pytest.mark.parametrize(
    ("size", "world_size"), [(6, 3), (5, 2), (7, 4), (1, 2), (3, 4)], ids=lambda v: str(v)
)
def test_averaged_share_gradients_are_the_whole_batch_gradient(size, world_size):
    torch.manual_seed(0)
    network = ScoreMLP(X_DIM, Y_DIM, width=16, depth=2).double()
    module = ScoreModule(network, VE(0.01, 5.0), optimizer=None)
    x, y = torch.randn(size, X_DIM, dtype=torch.float64), torch.randn(size, Y_DIM, dtype=torch.float64)

    (whole,) = shares(x, y, 1)
    torch.manual_seed(7)
    full_loss = dsm_loss(network, module.formulation, whole[0], whole[1])
    expected, logged_one = process_step(module, whole, 0, [size], seed=7)
    assert logged_one["value"].item() == pytest.approx(full_loss.item(), rel=1e-12)

    parts = shares(x, y, world_size)
    sizes = [len(b[0]) for b in parts]
    assert sizes == [len(s) for s in torch.arange(size).tensor_split(world_size)]
    steps = [process_step(module, batch, rank, sizes, seed=7) for rank, batch in enumerate(parts)]
    averaged = [torch.stack(g).mean(0) for g in zip(*(grads for grads, _ in steps), strict=True)]
    for got, want in zip(averaged, expected, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)

    # Lightning's epoch value under sync_dist: sum over processes of value x batch_size, over the summed sizes
    logs = [logged for _, logged in steps]
    assert all(log.get("sync_dist") and torch.isfinite(log["value"]) for log in logs)
    assert [log["batch_size"] for log in logs] == sizes
    epoch_value = sum(log["value"] * log["batch_size"] for log in logs) / sum(sizes)
    assert epoch_value.item() == pytest.approx(full_loss.item(), rel=1e-12)
