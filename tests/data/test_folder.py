from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from poolstride.data import load_dataset
from poolstride.errors import PoolstrideError

# ../shared beside the repo: real CIFAR-10 JPEGs in class folders (test data, not packaged).
CIFAR_MINI = Path(__file__).resolve().parents[3] / "shared" / "data" / "cifar10-mini"
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


@pytest.mark.skipif(not CIFAR_MINI.is_dir(), reason="cifar10-mini not present beside the repo")
def test_cifar10_mini_folder():
    ds = load_dataset(f"folder:{CIFAR_MINI}")
    assert ds.input_shape == (3, 32, 32) and ds.num_classes == 10
    assert ds.class_names == CLASSES
    assert (ds.train_size, ds.test_size) == (2000, 1000)
    assert torch.bincount(ds.y_train).tolist() == [200] * 10
    assert torch.bincount(ds.y_test).tolist() == [100] * 10
    # First training image is airplane/0000.jpg (sorted classes, sorted files), decoded by PIL.
    first = sorted((CIFAR_MINI / "train" / "airplane").iterdir())[0]
    pixels = torch.from_numpy(np.array(Image.open(first).convert("RGB"))).permute(2, 0, 1)
    assert ds.y_train[0] == 0
    # Standardisation is one affine map per channel, so it vanishes after re-standardising.
    for c in range(3):
        a, b = pixels[c].flatten().float(), ds.x_train[0][c].flatten()
        assert torch.allclose((a - a.mean()) / a.std(), (b - b.mean()) / b.std(), atol=1e-4)


def write_images(root, counts, size=(6, 5), mode="RGB", sizes=None):
    rng = np.random.default_rng(0)
    for cls, n in counts.items():
        (root / cls).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            w, h = sizes[i % len(sizes)] if sizes else size
            shape = (h, w, 3) if mode == "RGB" else (h, w)
            Image.fromarray(rng.integers(0, 256, size=shape, dtype=np.uint8), mode).save(
                root / cls / f"{i:03d}.png"
            )


def test_single_folder_is_split_stratified_and_deterministically(tmp_path):
    write_images(tmp_path, {"cat": 10, "dog": 20})
    ds = load_dataset(f"folder:{tmp_path}")
    assert ds.class_names == ("cat", "dog") and ds.input_shape == (3, 5, 6)
    assert ds.test_size == 6 and torch.bincount(ds.y_test).tolist() == [2, 4]
    assert torch.bincount(ds.y_train).tolist() == [8, 16]
    again = load_dataset(f"folder:{tmp_path}", seed=7)  # seed never moves the test split
    assert torch.equal(ds.x_test[:], again.x_test[:])
    third = load_dataset(f"folder:{tmp_path}", test_fraction=0.5)
    assert third.test_size == 15


def test_train_test_layout_and_grey_images(tmp_path):
    write_images(tmp_path / "train", {"a": 3, "b": 3}, mode="L")
    write_images(tmp_path / "test", {"b": 2}, mode="L")  # a test set may lack a class
    ds = load_dataset(f"folder:{tmp_path}")
    assert ds.input_shape == (1, 5, 6)
    assert ds.y_test.tolist() == [1, 1]  # 'b' keeps its training index


def test_images_are_resized_to_the_common_or_requested_size(tmp_path):
    write_images(tmp_path, {"a": 6, "b": 6}, sizes=[(8, 8), (8, 8), (12, 10)])
    assert load_dataset(f"folder:{tmp_path}").input_shape == (3, 8, 8)
    assert load_dataset(f"folder:{tmp_path}", image_size=4).input_shape == (3, 4, 4)
    assert load_dataset(f"folder:{tmp_path}", image_size=(4, 6)).input_shape == (3, 4, 6)


@pytest.mark.parametrize(
    "setup, match",
    [
        (lambda root: None, "does not exist"),
        (lambda root: root.mkdir(), "no class sub-folders"),
        (lambda root: (root / "a").mkdir(parents=True), "a"),
        (lambda root: write_images(root, {"a": 1, "b": 1}), "too few"),
    ],
)
def test_folder_errors_are_one_line(tmp_path, setup, match):
    root = tmp_path / "images"
    setup(root)
    with pytest.raises(PoolstrideError, match=match) as info:
        load_dataset(f"folder:{root}")
    assert "\n" not in str(info.value)


def test_test_class_without_train_folder(tmp_path):
    write_images(tmp_path / "train", {"a": 2})
    write_images(tmp_path / "test", {"zebra": 2})
    with pytest.raises(PoolstrideError, match="zebra"):
        load_dataset(f"folder:{tmp_path}")


@pytest.mark.parametrize("image_size", [0, "big", (3,)])
def test_bad_image_size(tmp_path, image_size):
    write_images(tmp_path, {"a": 5, "b": 5})
    with pytest.raises(PoolstrideError, match="image_size"):
        load_dataset(f"folder:{tmp_path}", image_size=image_size)
