import random

import numpy as np
import torch

from poolstride.data import cache_dir, load_dataset
from poolstride.data import mnist1d as m1d


def test_mnist1d_matches_the_package_generator():
    """Same arrays as the mnist1d package's own make_dataset (the oracle), on a smaller set."""
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.num_samples = 500
    reference = make_dataset(args)
    ds = load_dataset("mnist1d", num_samples=500)
    np.testing.assert_allclose(ds.x_train[:, 0].numpy(), reference["x"], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(ds.x_test[:, 0].numpy(), reference["x_test"], rtol=1e-6, atol=1e-6)
    assert np.array_equal(ds.y_train.numpy(), reference["y"])
    assert np.array_equal(ds.y_test.numpy(), reference["y_test"])


def test_mnist1d_default_is_the_published_size():
    ds = load_dataset("mnist1d")
    assert ds.input_shape == (1, 40) and ds.num_classes == 10
    assert (ds.train_size, ds.test_size) == (4000, 1000)
    assert ds.x_train.dtype == torch.float32 and ds.y_train.dtype == torch.int64
    assert ds.class_names == tuple("0123456789")
    assert torch.bincount(ds.y_train).min() > 350  # roughly balanced, as generated
    everything = torch.cat([ds.x_train, ds.x_test])
    assert abs(everything.mean().item()) < 1e-4 and abs(everything.std().item() - 1) < 1e-3


def test_mnist1d_second_call_reads_the_cache(monkeypatch):
    load_dataset("mnist1d")  # ensure it is cached
    key = m1d.cache_key(m1d.mnist1d_args())
    assert (cache_dir() / f"mnist1d-{key}.npz").is_file()

    def fail(args):
        raise AssertionError("regenerated although cached")

    monkeypatch.setattr(m1d, "_generate", fail)
    assert load_dataset("mnist1d").train_size == 4000


def test_mnist1d_never_touches_the_network_or_global_rng(monkeypatch):
    import requests

    def no_network(*args, **kwargs):
        raise AssertionError("network access")

    monkeypatch.setattr(requests, "get", no_network)
    np.random.seed(123)
    random.seed(123)
    expected = (np.random.rand(), random.random())
    np.random.seed(123)
    random.seed(123)
    small = load_dataset("mnist1d", num_samples=200, use_cache=False)
    assert (np.random.rand(), random.random()) == expected
    assert (small.train_size, small.test_size) == (160, 40)


def test_mnist1d_options_change_the_cache_key():
    a = m1d.cache_key(m1d.mnist1d_args())
    b = m1d.cache_key(m1d.mnist1d_args(seed=1))
    assert a != b
    ds = load_dataset("mnist1d", num_samples=100, final_seq_length=24, seed_data=3)
    assert ds.input_shape == (1, 24) and ds.train_size == 80


def test_mnist1d_train_size_subsample():
    ds = load_dataset("mnist1d", train_size=500, seed=1)
    assert ds.train_size == 500 and ds.test_size == 1000
    counts = torch.bincount(ds.y_train, minlength=10)
    assert counts.min() >= 48 and counts.max() <= 52
    again = load_dataset("mnist1d", train_size=500, seed=1)
    assert torch.equal(ds.x_train, again.x_train)
    other = load_dataset("mnist1d", train_size=500, seed=2)
    assert not torch.equal(ds.y_train, other.y_train) or not torch.equal(ds.x_train, other.x_train)
    assert torch.equal(ds.x_test, other.x_test)
