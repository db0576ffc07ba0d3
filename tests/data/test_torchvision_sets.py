"""The torchvision path, on tiny fake files in torchvision's own formats (no network)."""

import pickle
import struct

import numpy as np
import pytest
import torch

from poolstride.data import load_dataset
from poolstride.errors import PoolstrideError

N_TRAIN, N_TEST = 12, 6


def write_idx(path, array: np.ndarray):
    """IDX format: 0x0000 08 (ubyte) ndim, big-endian sizes, raw bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    header = struct.pack(">HBB", 0, 8, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def fake_mnist(root, folder):
    rng = np.random.default_rng(0)
    raw = root / folder / "raw"
    arrays = {}
    for prefix, n in (("train", N_TRAIN), ("t10k", N_TEST)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        write_idx(raw / f"{prefix}-images-idx3-ubyte", images)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels)
        arrays[prefix] = (images, labels)
    return arrays


def fake_cifar(root, folder, train_files, test_file, meta_file, label_key, names_key, n_classes):
    rng = np.random.default_rng(1)
    base = root / folder
    base.mkdir(parents=True)
    batches = []
    for name in (*train_files, test_file):
        n = N_TEST if name == test_file else N_TRAIN // len(train_files)
        data = rng.integers(0, 256, size=(n, 3 * 32 * 32), dtype=np.uint8)
        labels = [int(i % n_classes) for i in range(n)]
        with open(base / name, "wb") as f:
            pickle.dump({"data": data, label_key: labels}, f)
        batches.append((data, labels))
    with open(base / meta_file, "wb") as f:
        pickle.dump({names_key: [f"class{i}" for i in range(n_classes)]}, f)
    return batches


@pytest.fixture
def existence_only_integrity(monkeypatch):
    """Fake files cannot have the real MD5s; check only that they exist."""
    import os

    import torchvision.datasets.cifar as cifar
    import torchvision.datasets.svhn as svhn

    for module in (cifar, svhn):
        monkeypatch.setattr(module, "check_integrity", lambda path, md5=None: os.path.isfile(path))


@pytest.mark.parametrize("name, folder", [("mnist", "MNIST"), ("fashion-mnist", "FashionMNIST")])
def test_mnist_like_from_idx_files(tmp_path, name, folder):
    arrays = fake_mnist(tmp_path, folder)
    ds = load_dataset(name, data_dir=tmp_path)
    assert ds.input_shape == (1, 28, 28) and ds.num_classes == 10
    assert (ds.train_size, ds.test_size) == (N_TRAIN, N_TEST)
    images, labels = arrays["train"]
    assert torch.equal(ds.y_train, torch.from_numpy(labels.astype(np.int64)))
    # Undo the documented normalisation: x = (pixel/255 - mean) / std with training stats.
    pixels = torch.from_numpy(images).float().div(255).unsqueeze(1)
    mean, std = pixels.mean(), pixels.std()
    assert torch.allclose(ds.x_train, (pixels - mean) / std, atol=1e-5)
    test_pixels = torch.from_numpy(arrays["t10k"][0]).float().div(255).unsqueeze(1)
    assert torch.allclose(ds.x_test, (test_pixels - mean) / std, atol=1e-5)


def test_cifar10_from_pickle_batches(tmp_path, existence_only_integrity):
    batches = fake_cifar(
        tmp_path,
        "cifar-10-batches-py",
        [f"data_batch_{i}" for i in range(1, 6)],
        "test_batch",
        "batches.meta",
        "labels",
        "label_names",
        10,
    )
    ds = load_dataset("cifar10", data_dir=tmp_path)
    assert ds.input_shape == (3, 32, 32) and ds.num_classes == 10
    assert ds.class_names == tuple(f"class{i}" for i in range(10))
    data = np.concatenate([b[0] for b in batches[:-1]])
    pixels = torch.from_numpy(data).float().div(255).view(-1, 3, 32, 32)  # CIFAR rows are CHW
    mean = pixels.mean(dim=(0, 2, 3), keepdim=True)
    std = pixels.std(dim=(0, 2, 3), keepdim=True)
    assert torch.allclose(ds.x_train, (pixels - mean) / std, atol=1e-5)
    assert ds.y_train.tolist() == [y for b in batches[:-1] for y in b[1]]
    assert ds.y_test.tolist() == batches[-1][1]


def test_cifar100_uses_fine_labels(tmp_path, existence_only_integrity):
    fake_cifar(
        tmp_path,
        "cifar-100-python",
        ["train"],
        "test",
        "meta",
        "fine_labels",
        "fine_label_names",
        100,
    )
    ds = load_dataset("cifar100", data_dir=tmp_path)
    assert ds.num_classes == 100 and ds.input_shape == (3, 32, 32)
    assert (ds.train_size, ds.test_size) == (N_TRAIN, N_TEST)


def test_svhn_from_mat_files(tmp_path, existence_only_integrity):
    from scipy.io import savemat

    rng = np.random.default_rng(2)
    for split, n in (("train", N_TRAIN), ("test", N_TEST)):
        x = rng.integers(0, 256, size=(32, 32, 3, n), dtype=np.uint8)
        y = (np.arange(n) % 10 + 1).reshape(n, 1)  # SVHN stores digit 0 as label 10
        savemat(tmp_path / f"{split}_32x32.mat", {"X": x, "y": y})
    ds = load_dataset("svhn", data_dir=tmp_path)
    assert ds.input_shape == (3, 32, 32) and ds.num_classes == 10
    assert ds.y_train.tolist() == [(i % 10 + 1) % 10 for i in range(N_TRAIN)]
    assert ds.class_names == tuple("0123456789")


@pytest.mark.parametrize(
    "name, expected",
    [
        ("mnist", "MNIST/raw"),
        ("fashion-mnist", "FashionMNIST/raw"),
        ("cifar10", "cifar-10-batches-py"),
        ("cifar100", "cifar-100-python"),
        ("svhn", "train_32x32.mat"),
    ],
)
def test_missing_files_say_how_to_get_them(tmp_path, name, expected):
    with pytest.raises(PoolstrideError) as info:
        load_dataset(name, data_dir=tmp_path)
    message = str(info.value)
    assert "\n" not in message and "--download" in message
    assert str(tmp_path / expected) in message or f"{tmp_path}/{expected}" in message


def test_default_data_dir_comes_from_the_environment(tmp_path, monkeypatch):
    fake_mnist(tmp_path, "MNIST")
    monkeypatch.setenv("POOLSTRIDE_DATA_DIR", str(tmp_path))
    assert load_dataset("mnist").train_size == N_TRAIN


def test_failed_download_is_one_line(tmp_path, monkeypatch):
    import torchvision.datasets.cifar as cifar

    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(cifar, "download_and_extract_archive", offline)
    with pytest.raises(PoolstrideError, match="could not be downloaded") as info:
        load_dataset("cifar10", data_dir=tmp_path, download=True)
    assert "\n" not in str(info.value)


def test_train_size_on_a_torchvision_set(tmp_path):
    fake_mnist(tmp_path, "MNIST")
    ds = load_dataset("mnist", data_dir=tmp_path, train_size=10, seed=0)
    assert ds.train_size == 10 and torch.bincount(ds.y_train).tolist() == [1] * 10
    with pytest.raises(PoolstrideError, match="larger than"):
        load_dataset("mnist", data_dir=tmp_path, train_size=13)
