import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from poolstride.data import Dataset, standardize, stratified_indices, subsample_train
from poolstride.errors import PoolstrideError


def make(n_train=30, n_test=10, classes=3, shape=(1, 8)):
    return Dataset(
        name="toy",
        x_train=torch.randn(n_train, *shape),
        y_train=torch.arange(n_train) % classes,
        x_test=torch.randn(n_test, *shape),
        y_test=torch.arange(n_test) % classes,
        num_classes=classes,
        input_shape=shape,
        class_names=tuple("abc"[:classes]),
    )


def test_dataset_is_frozen_and_describes_itself():
    ds = make()
    with pytest.raises(AttributeError):
        ds.name = "other"
    assert ds.dim == 1 and ds.train_size == 30 and ds.test_size == 10
    assert ds.describe() == "toy: 30 train / 10 test, input 1x8, 3 classes"
    assert repr(ds) == "Dataset(name='toy', train=30, test=10, input_shape=(1, 8), num_classes=3)"


@pytest.mark.parametrize(
    "change",
    [
        {"x_train": torch.randn(30, 1, 8, dtype=torch.float64)},
        {"y_train": torch.zeros(30, dtype=torch.int32)},
        {"x_test": torch.randn(10, 2, 8)},
        {"y_test": torch.zeros(9, dtype=torch.int64)},
        {"class_names": ("a", "b")},
        {"x_train": torch.randn(30, 8), "input_shape": (8,)},
    ],
)
def test_dataset_rejects_inconsistent_fields(change):
    ds = make()
    fields = {f: getattr(ds, f) for f in ds.__dataclass_fields__}
    fields.update(change)
    with pytest.raises(PoolstrideError):
        Dataset(**fields)


@given(
    counts=st.lists(st.integers(1, 40), min_size=1, max_size=6),
    frac=st.floats(0.01, 1.0),
    seed=st.integers(0, 2**31),
)
def test_stratified_indices_keep_class_proportions(counts, frac, seed):
    labels = np.repeat(np.arange(len(counts)), counts)
    np.random.default_rng(seed).shuffle(labels)
    size = max(1, int(frac * len(labels)))
    idx = stratified_indices(labels, size, seed)
    assert len(idx) == size and len(set(idx.tolist())) == size
    assert np.all(np.diff(idx) > 0)
    picked = np.bincount(labels[idx], minlength=len(counts))
    expected = size * np.asarray(counts) / len(labels)
    assert np.all(np.abs(picked - expected) < 1)  # largest-remainder rounding
    assert np.array_equal(idx, stratified_indices(labels, size, seed))


def test_stratified_indices_depend_on_seed():
    labels = np.arange(1000) % 10
    assert not np.array_equal(
        stratified_indices(labels, 100, 0), stratified_indices(labels, 100, 1)
    )


def test_subsample_train_is_stratified_and_leaves_test_alone():
    ds = make(n_train=300, n_test=10)
    sub = subsample_train(ds, 30, seed=5)
    assert sub.train_size == 30
    assert torch.bincount(sub.y_train).tolist() == [10, 10, 10]
    assert sub.x_test is ds.x_test
    # Every kept example is one of the originals, with its own label.
    rows = [int(torch.nonzero((ds.x_train == x).all(dim=(1, 2)))[0]) for x in sub.x_train]
    assert torch.equal(ds.y_train[rows], sub.y_train)
    assert subsample_train(ds, None, 0) is ds
    assert subsample_train(ds, 300, 0) is ds


@pytest.mark.parametrize(
    "size, match",
    [
        (301, "larger than the 300"),
        (0, "positive integer"),
        (2, "smaller than the number"),
        (10.5, "positive integer"),
        (True, "positive integer"),
    ],
)
def test_subsample_train_errors(size, match):
    with pytest.raises(PoolstrideError, match=match):
        subsample_train(make(n_train=300), size, 0)


def test_standardize_uses_training_statistics_per_channel():
    x_train = torch.randn(50, 3, 4, 4) * torch.tensor([1.0, 5.0, 0.1]).view(1, 3, 1, 1) + 7
    x_test = torch.randn(20, 3, 4, 4)
    a, b = standardize(x_train, x_test)
    assert torch.allclose(a.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-5)
    assert torch.allclose(a.std(dim=(0, 2, 3)), torch.ones(3), atol=1e-5)
    mean = x_train.mean(dim=(0, 2, 3)).view(1, 3, 1, 1)
    std = x_train.std(dim=(0, 2, 3)).view(1, 3, 1, 1)
    assert torch.allclose(b, (x_test - mean) / std, atol=1e-5)


def test_standardize_copies_unless_told_otherwise():
    x_train, x_test = torch.randn(10, 2, 5) + 3, torch.randn(4, 2, 5)
    before = x_train.clone()
    a, _ = standardize(x_train, x_test)
    assert torch.equal(x_train, before)
    b, c = standardize(x_train, x_test, inplace=True)
    assert b is x_train and c is x_test and torch.allclose(b, a)
