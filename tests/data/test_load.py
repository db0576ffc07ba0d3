import pytest
import torch

from poolstride.data import DATASETS, load_dataset
from poolstride.errors import PoolstrideError


def test_dataset_names():
    assert DATASETS[0] == "mnist1d"
    assert {"shapes2d", "digits", "mnist", "fashion-mnist", "cifar10", "cifar100", "svhn"} <= set(
        DATASETS
    )


def test_digits_split_is_stratified_and_fixed():
    ds = load_dataset("digits")
    assert ds.input_shape == (1, 8, 8) and ds.num_classes == 10
    assert (ds.train_size, ds.test_size) == (1437, 360)
    counts = torch.bincount(ds.y_test)
    assert counts.min() >= 35 and counts.max() <= 37
    assert abs(ds.x_train.mean().item()) < 1e-5 and abs(ds.x_train.std().item() - 1) < 1e-3
    sub = load_dataset("digits", train_size=100, seed=3)
    assert sub.train_size == 100 and torch.equal(sub.x_test, ds.x_test)


@pytest.mark.parametrize(
    "name, kw, match",
    [
        ("cifar-10", {}, "did you mean 'cifar10'"),
        ("imagenet", {}, "unknown dataset"),
        (3, {}, "must be a string"),
        ("folder:", {}, "needs a path"),
        ("digits", {"image_size": 4}, "unknown option"),
        ("shapes2d", {"imagesize": 4}, "did you mean 'image_size'"),
        ("digits", {"train_size": 5000}, "larger than the 1437"),
    ],
)
def test_bad_requests_are_one_line_errors(name, kw, match):
    with pytest.raises(PoolstrideError, match=match) as info:
        load_dataset(name, **kw)
    assert "\n" not in str(info.value)


def test_names_are_case_insensitive():
    assert load_dataset("Digits").name == "digits"
