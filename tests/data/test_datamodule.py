"""PairedDataModule: schema errors, training-split statistics, seeded noise, masks (docs/math.md §8),
batches."""

import numpy as np
import pytest
import torch

from diffinv.data.datamodule import MISSING_READING, PairedDataModule, ShuffledBatches
from diffinv.data.schema import DatasetError, Split, write_dataset


def make_file(path, n_train=50, n_test=30, masked=False, seed=0):
    rng = np.random.default_rng(seed)

    def split(n, offset):
        x = rng.normal(offset, 2.0, (n, 3))
        y = rng.uniform(1.0, 5.0, (n, 4)) + offset
        return Split(x=x, y_clean=y, mask=rng.uniform(size=(n, 4)) < 0.7 if masked else None)

    return write_dataset(path, {"train": split(n_train, 0.0), "test": split(n_test, 10.0)})


def loaded(path, **kwargs):
    dm = PairedDataModule(str(path), batch_size=16, **kwargs)
    dm.setup("fit")
    return dm


def all_batches(dm):
    return list(dm.train_dataloader())


def test_missing_file_names_the_file(tmp_path):
    with pytest.raises(DatasetError, match="nope.h5: dataset file not found"):
        loaded(tmp_path / "nope.h5")


def test_corrupt_file_names_the_file(tmp_path):
    path = tmp_path / "corrupt.h5"
    path.write_bytes(b"not an hdf5 file at all")
    with pytest.raises(DatasetError, match="corrupt.h5: not a readable HDF5 dataset"):
        loaded(path)


@pytest.mark.parametrize("kind", ["standard", "minmax"])
def test_statistics_come_from_the_training_split_only(tmp_path, kind):
    dm = loaded(make_file(tmp_path / "d.h5"), normalisation=kind)
    x = torch.cat([b[0] for b in all_batches(dm)]).double().numpy()
    if kind == "standard":
        np.testing.assert_allclose(x.mean(0), 0, atol=1e-6)
        np.testing.assert_allclose(x.std(0), 1, atol=1e-6)
    else:
        np.testing.assert_allclose(x.min(0), -1, atol=1e-6)
        np.testing.assert_allclose(x.max(0), 1, atol=1e-6)
    test_x = dm.x_norm.forward(dm.dataset.test.x)  # the test split sits at +10: far from 0 after the map
    assert test_x.mean() > 2
    np.testing.assert_allclose(dm.x_norm.inverse(dm.x_norm.forward(dm.dataset.test.x)), dm.dataset.test.x)
    # sigma_data: auto (docs/math.md §15.2): the RMS per-component std of what the network is trained on
    np.testing.assert_allclose(dm.x_scale(), np.sqrt(x.var(axis=0).mean()), rtol=1e-5)
    if kind == "standard":
        assert dm.x_scale() == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize(
    ("x", "kind", "expected"),
    [
        # x_j = mu_j -+ s_j alternately: mean mu_j, variance s_j^2; sigma_d^2 = mean_j s_j^2, whatever mu_j
        (
            np.array([3.0, -1.0]) + np.array([2.0, 0.5]) * np.resize([-1.0, 1.0], (40, 1)),
            "none",
            np.sqrt(2.125),
        ),
        # min-max centres on the mid-range: {0, 0, 0, 4} -> {-1, -1, -1, 1}, mean -1/2, variance 3/4
        (np.resize([0.0, 0.0, 0.0, 4.0], (40, 1)), "minmax", np.sqrt(0.75)),
    ],
)
def test_x_scale_is_the_centred_std_of_the_normalised_x(tmp_path, x, kind, expected):
    """σ_d of docs/math.md §15.2: the RMS per-component std; the data's mean does not count."""
    path = write_dataset(tmp_path / "d.h5", {"train": Split(x=x, y_clean=x), "test": Split(x=x, y_clean=x)})
    assert loaded(path, normalisation=kind).x_scale() == pytest.approx(expected, rel=1e-12)


def test_one_epoch_visits_every_pair_once_in_shuffled_batches(tmp_path):
    dm = loaded(make_file(tmp_path / "d.h5"), normalisation="none")
    batches = all_batches(dm)
    assert [len(b[0]) for b in batches] == [16, 16, 16, 2] and len(dm.train_dataloader()) == 4
    x = torch.cat([b[0] for b in batches]).double().numpy()
    order = np.lexsort(x.T)
    np.testing.assert_allclose(x[order], dm.dataset.train.x[np.lexsort(dm.dataset.train.x.T)], rtol=1e-6)
    assert not np.allclose(x, dm.dataset.train.x.astype(np.float32))


def test_noise_is_seeded_scaled_and_fresh_per_epoch(tmp_path):
    path = make_file(tmp_path / "d.h5", n_train=4000)
    dm = loaded(path, noise=0.1, normalisation="none", seed=3)
    clean_mean = np.abs(dm.dataset.train.y_clean).mean()
    assert dm.noise_std == pytest.approx(0.1 * clean_mean)
    loader = dm.train_dataloader()
    first, second = loader.make_epoch(0).double().numpy(), loader.make_epoch(1).double().numpy()
    residual = first - dm.dataset.train.y_clean
    assert residual.std() == pytest.approx(dm.noise_std, rel=0.05)
    assert not np.allclose(first, second)
    again = loaded(path, noise=0.1, normalisation="none", seed=3).train_dataloader().make_epoch(0)
    np.testing.assert_array_equal(first, again.double().numpy())  # a function of (seed, epoch): resumable
    fixed = loaded(path, noise=0.1, normalisation="none", fresh_noise_each_epoch=False).train_dataloader()
    np.testing.assert_array_equal(fixed.make_epoch(0).numpy(), fixed.make_epoch(7).numpy())


def test_batches_are_a_function_of_seed_and_epoch_and_shared_out_under_data_parallelism(tmp_path):
    dm = loaded(make_file(tmp_path / "d.h5", n_train=4000), noise=0.1, seed=3)
    one = dm.train_dataloader()
    whole = [x for x, _, _ in one]
    assert all(torch.equal(a, b) for a, b in zip(whole, [x for x, _, _ in one], strict=True))  # same epoch
    halves = []
    for rank in (0, 1):
        shard = ShuffledBatches(one.x, one.make_epoch, None, one.batch_size, one.seed, one.epoch, rank, 2)
        halves.append([x for x, _, _ in shard])
    for batch, first, second in zip(whole, *halves, strict=True):
        assert torch.equal(torch.cat([first, second]), batch)  # the two processes' shares make the batch


@pytest.mark.parametrize(("n_train", "world_size"), [(50, 3), (49, 2), (33, 4)])
def test_uneven_shares_reassemble_every_batch_and_are_empty_only_below_one_pair_per_process(
    tmp_path, n_train, world_size
):
    """Batches of 16 with a last one of 2, 1, 1 pairs: shares differ by at most one pair, a share is empty
    only where the batch has fewer pairs than processes, and every process takes the same number of steps
    (docs/usage.md §11; the loss weighting is in tests/training/test_data_parallel.py)."""
    dm = loaded(make_file(tmp_path / "d.h5", n_train=n_train, masked=True))
    one = dm.train_dataloader()
    loaders = [
        ShuffledBatches(one.x, one.make_epoch, one.mask, 16, one.seed, one.epoch, rank, world_size)
        for rank in range(world_size)
    ]
    assert {len(loader) for loader in loaders} == {len(one)}
    per_process = [list(loader) for loader in loaders]
    assert {len(batches) for batches in per_process} == {len(one)}
    for batch, *parts in zip(one, *per_process, strict=True):
        for whole, *pieces in zip(batch, *parts, strict=True):
            assert torch.equal(torch.cat(pieces), whole)
        sizes = [len(part[0]) for part in parts]
        assert max(sizes) - min(sizes) <= 1
        assert sizes.count(0) == max(0, world_size - len(batch[0]))
    assert len(batch[0]) < world_size  # each case ends on a batch that leaves a process empty


def test_masked_readings_are_minus_one_after_normalisation(tmp_path):
    dm = loaded(make_file(tmp_path / "m.h5", masked=True), normalisation="minmax")
    x, y, mask = next(iter(dm.train_dataloader()))
    assert mask is not None and mask.shape == y.shape
    assert torch.all(y[mask == 0] == MISSING_READING)
    assert torch.all(y[mask == 1].abs() <= 1 + 1e-6)


def test_conditions_are_normalised_with_the_training_statistics(tmp_path):
    dm = PairedDataModule(str(make_file(tmp_path / "d.h5")))
    dm.setup("test")
    y = dm.normalise_y(np.array([[1.0, 2, 3, 4], [2, 3, 4, 5]]))
    train = dm.dataset.train.y_clean
    np.testing.assert_allclose(y[0], (np.array([1.0, 2, 3, 4]) - train.mean(0)) / train.std(0), rtol=1e-12)


def test_test_measurements_have_fixed_noise_independent_of_how_many(tmp_path):
    path = make_file(tmp_path / "t.h5", n_test=200, masked=True)
    dm = loaded(path, noise=0.2, seed=4)
    x, y, mask = dm.test_measurements(5)
    x_all, y_all, mask_all = loaded(path, noise=0.2, seed=4).test_measurements()
    assert x.shape == y.shape[:1] + (3,) and y.shape == mask.shape == (5, 4)
    np.testing.assert_array_equal(y, y_all[:5])
    np.testing.assert_array_equal(mask, mask_all[:5])
    np.testing.assert_array_equal(x_all, dm.dataset.test.x)
    residual = y_all - dm.dataset.test.y_clean
    assert residual.std() == pytest.approx(dm.noise_std, rel=0.1) and dm.noise_std > 0
    other_seed = loaded(path, noise=0.2, seed=5).test_measurements(5)[1]
    assert not np.allclose(y, other_seed)


def test_an_amortized_model_trains_on_a_log_uniform_level_per_pair(tmp_path):
    """data.noise=[low, high] (docs/math.md §19.1): each pair's level is log-uniform on the range, fresh each
    epoch, its noise that level's σ_n, and the network's last input the level mapped to [-1, 1]."""
    from diffinv.data.noise import noise_feature

    path = make_file(tmp_path / "d.h5", n_train=20_000)
    dm = PairedDataModule(str(path), batch_size=1000, noise=[0.01, 0.5], normalisation="none")
    dm.setup("fit")
    batches = dm.train_dataloader()
    y = batches.make_epoch(0).double().numpy()  # every pair's network input, in the file's order
    assert y.shape == (20_000, 5)
    level = np.exp((y[:, -1] + 1) / 2 * np.log(50) + np.log(0.01))
    np.testing.assert_allclose(noise_feature(level, 0.01, 0.5), y[:, -1], atol=1e-6)
    u = np.log(level / 0.01) / np.log(50)  # uniform on [0, 1] for a log-uniform level
    assert 0 <= u.min() and u.max() <= 1 and abs(u.mean() - 0.5) < 0.01 and abs(u.var() - 1 / 12) < 0.005
    unit = np.abs(dm.dataset.train.y_clean).mean()
    e = (y[:, :-1] - dm.dataset.train.y_clean) / (level[:, None] * unit)
    assert abs(e.mean()) < 0.01 and abs(e.std() - 1) < 0.01  # float32 inputs: within 1e-3 of exact
    assert not np.allclose(batches.make_epoch(1).numpy()[:, -1], y[:, -1])  # fresh levels each epoch


def test_the_level_of_an_amortized_models_test_readings(tmp_path):
    dm = loaded(make_file(tmp_path / "d.h5"), noise=[0.01, 0.5], normalisation="none")
    assert dm.noise == pytest.approx(np.sqrt(0.005))  # the range's geometric middle until chosen
    dm.use_noise(0.2)
    _, y, _ = dm.test_measurements()
    unit = np.abs(dm.dataset.train.y_clean).mean()
    assert dm.noise_std == pytest.approx(0.2 * unit)
    np.testing.assert_allclose(np.std(y - dm.dataset.test.y_clean), 0.2 * unit, rtol=0.1)
    assert dm.normalise_y(y)[:, -1] == pytest.approx(2 * np.log(20) / np.log(50) - 1)
    assert dm.state()["noise_range"] == [0.01, 0.5] and dm.state()["noise_unit"] == pytest.approx(unit)
    with pytest.raises(ValueError, match=r"outside the range the model was trained on, \[0.01, 0.5\]"):
        dm.use_noise(0.6)
    one = loaded(make_file(tmp_path / "e.h5"), noise=0.05)
    with pytest.raises(ValueError, match="trained at data.noise=0.05 only"):
        one.use_noise(0.1)
    for bad in ([0.5, 0.01], [0, 0.1], [0.1], "lots"):
        with pytest.raises(ValueError, match="data.noise"):
            PairedDataModule("x.h5", noise=bad)
