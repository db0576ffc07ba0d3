"""``folder:PATH`` is validated as data: links, duplicates, depth, alpha, classes, balance."""

import os

import numpy as np
import pytest
import torch
from PIL import Image

from poolstride.data import load_dataset
from poolstride.data.folder import _decode_into
from poolstride.errors import PoolstrideError


def _decode(paths, size, grey):
    """Images as the float32 store holds them: ``(N, C, H, W)`` in [0, 1]."""
    out = np.empty((len(paths), 1 if grey else 3, *size), dtype=np.float32)
    _decode_into(out, paths, size, grey)
    return torch.from_numpy(out)


def _noise(root, counts, size=(6, 5), seed=0):
    rng = np.random.default_rng(seed)
    for cls, n in counts.items():
        (root / cls).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            pixels = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
            Image.fromarray(pixels, "RGB").save(root / cls / f"{i:03d}.png")


def test_a_symlink_loop_does_not_multiply_the_samples(tmp_path, capsys):
    _noise(tmp_path, {"a": 6, "b": 6})
    os.symlink(tmp_path / "a", tmp_path / "a" / "loop")  # a/loop -> a
    os.symlink(tmp_path / "b", tmp_path / "b" / "deeper")
    ds = load_dataset(f"folder:{tmp_path}")
    assert ds.train_size + ds.test_size == 12
    assert "reached twice" not in capsys.readouterr().err  # loop pruned, no file repeated


def test_files_reached_twice_count_once_and_are_reported(tmp_path, capsys):
    _noise(tmp_path, {"a": 6, "b": 6})
    (tmp_path / "a" / "more").mkdir()
    for i in range(3):  # links to files of the same and of the other class
        os.symlink(tmp_path / "a" / f"{i:03d}.png", tmp_path / "a" / "more" / f"x{i}.png")
    os.symlink(tmp_path / "a" / "000.png", tmp_path / "b" / "zz.png")
    ds = load_dataset(f"folder:{tmp_path}")
    assert ds.train_size + ds.test_size == 12
    assert any("4 file(s) reached twice" in n for n in ds.notes)
    assert "reached twice" in capsys.readouterr().err


def test_sixteen_bit_images_are_scaled_not_clipped(tmp_path):
    values = np.array([[0, 1000, 30000], [40000, 60000, 65535]], dtype=np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(values).save(path)  # a 16-bit grey PNG
    with Image.open(path) as img:
        assert img.mode.startswith("I")
    x = _decode([str(path)], (2, 3), grey=True)
    assert torch.allclose(x[0, 0], torch.from_numpy(values / 65535.0).float(), atol=1e-6)
    assert (x < 1).float().mean() > 0.8  # before: 99% of such pixels saturated at 1
    colour = _decode([str(path)], (2, 3), grey=False)  # beside RGB images: grey repeated
    assert colour.shape == (1, 3, 2, 3) and torch.equal(colour[0, 0], colour[0, 2])


def test_float_images_are_mapped_from_their_range(tmp_path):
    inside = tmp_path / "inside.tif"
    Image.fromarray(np.array([[0.0, 0.25], [0.5, 1.0]], dtype=np.float32), "F").save(inside)
    wide = tmp_path / "wide.tif"
    Image.fromarray(np.array([[-2.0, 0.0], [2.0, 6.0]], dtype=np.float32), "F").save(wide)
    x = _decode([str(inside), str(wide)], (2, 2), grey=True)
    assert x[0, 0].flatten().tolist() == [0.0, 0.25, 0.5, 1.0]
    assert x[1, 0].flatten().tolist() == [0.0, 0.25, 0.5, 1.0]


def test_alpha_is_composited_onto_black_and_palettes_expanded(tmp_path):
    rgba = np.zeros((1, 3, 4), dtype=np.uint8)
    rgba[0, 0] = (255, 255, 255, 255)  # opaque white
    rgba[0, 1] = (255, 255, 255, 0)  # transparent white -> black
    rgba[0, 2] = (200, 100, 0, 51)  # 20% opaque
    path = tmp_path / "alpha.png"
    Image.fromarray(rgba, "RGBA").save(path)
    x = _decode([str(path)], (1, 3), grey=False)[0]
    assert x[:, 0, 0].tolist() == [1.0, 1.0, 1.0]
    assert x[:, 0, 1].tolist() == [0.0, 0.0, 0.0]
    assert torch.allclose(x[:, 0, 2], torch.tensor([200, 100, 0]) / 255 * 0.2, atol=1e-6)
    pal = Image.new("P", (2, 1))
    pal.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    pal.putpixel((0, 0), 0)
    pal.putpixel((1, 0), 1)
    pal.save(tmp_path / "pal.png")
    y = _decode([str(tmp_path / "pal.png")], (1, 2), grey=False)[0]
    assert y[:, 0, 0].tolist() == [1.0, 0.0, 0.0] and y[:, 0, 1].tolist() == [0.0, 0.0, 1.0]


def test_a_single_class_is_refused(tmp_path):
    _noise(tmp_path, {"only": 10})
    with pytest.raises(PoolstrideError, match="at least two class") as info:
        load_dataset(f"folder:{tmp_path}")
    assert "\n" not in str(info.value)
    _noise(tmp_path / "split" / "train", {"only": 3})
    _noise(tmp_path / "split" / "test", {"only": 3})
    with pytest.raises(PoolstrideError, match="at least two class"):
        load_dataset(f"folder:{tmp_path / 'split'}")


def test_samples_in_both_splits_are_counted(tmp_path, capsys):
    _noise(tmp_path / "train", {"a": 4, "b": 4})
    _noise(tmp_path / "test", {"a": 2, "b": 2}, seed=1)
    for i in range(2):  # the same pixels in test as in train
        (tmp_path / "test" / "b" / f"{i:03d}.png").write_bytes(
            (tmp_path / "train" / "a" / f"{i:03d}.png").read_bytes()
        )
    ds = load_dataset(f"folder:{tmp_path}")
    assert any("2 of 4 test image(s) also appear in the training split" in n for n in ds.notes)
    assert "also appear" in capsys.readouterr().err


def test_per_class_counts_are_printed_and_imbalance_reported(tmp_path, capsys):
    _noise(tmp_path, {"cat": 5, "dog": 25})
    ds = load_dataset(f"folder:{tmp_path}")
    err = capsys.readouterr().err
    assert "2 classes, 24 train / 6 test images: cat 4/1, dog 20/5" in err
    assert "class imbalance: 'dog' has 20 training images, 'cat' 4 (5.0x" in err
    assert ds.notes and all("\n" not in n for n in ds.notes)
    _noise(tmp_path / "even", {"a": 5, "b": 5})
    load_dataset(f"folder:{tmp_path / 'even'}")
    assert "imbalance" not in capsys.readouterr().err


def test_a_regular_file_is_not_a_folder(tmp_path):
    (tmp_path / "f.png").write_bytes(b"not a folder")
    with pytest.raises(PoolstrideError, match="is a file, not a folder"):
        load_dataset(f"folder:{tmp_path / 'f.png'}")
