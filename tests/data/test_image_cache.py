"""Image folders are decoded once: the cache's key, its safety, and that reads are exact."""

import json
import multiprocessing
import os
import time

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from poolstride.data import StandardizedImages, load_dataset
from poolstride.data.dataset import standardize
from poolstride.data.folder import _decode_into
from poolstride.data.image_cache import build_entry, open_entry


def _noise(root, counts, size=(6, 5), seed=0, mode="RGB"):
    rng = np.random.default_rng(seed)
    for cls, n in counts.items():
        (root / cls).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            shape = (size[1], size[0], 3) if mode == "RGB" else (size[1], size[0])
            pixels = rng.integers(0, 256, size=shape, dtype=np.uint8)
            Image.fromarray(pixels, mode).save(root / cls / f"{i:03d}.png")


def _entries(cache):
    folder = cache / "decoded"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


@pytest.fixture
def cache(tmp_path_factory, monkeypatch):
    """A fresh, empty cache for this test (outside the image folders)."""
    path = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("POOLSTRIDE_CACHE_DIR", str(path))
    return path


def _today(paths, size, grey):
    """The pre-cache path: float32 pixels, standardised in place with torch's statistics."""
    out = np.empty((len(paths), 1 if grey else 3, *size), dtype=np.float32)
    _decode_into(out, paths, size, grey)
    return torch.from_numpy(out)


def test_second_load_opens_the_cache_and_reads_the_same_batches(tmp_path, cache, capsys):
    _noise(tmp_path / "imgs", {"a": 12, "b": 12})
    first = load_dataset(f"folder:{tmp_path / 'imgs'}")
    err = capsys.readouterr().err
    assert "decoded 24 images in" in err and "uint8" in err and str(cache) in err
    assert isinstance(first.x_train, StandardizedImages)
    assert first.x_train.stored.dtype == torch.uint8 and not first.x_train.streamed
    assert first.x_train.stored.nbytes == first.train_size * 3 * 5 * 6  # 1 byte per value
    assert len(_entries(cache)) == 1
    again = load_dataset(f"folder:{tmp_path / 'imgs'}")
    err = capsys.readouterr().err
    assert "opened the decoded cache of 24 images" in err and "decoded 24" not in err
    assert torch.equal(first.x_train[:], again.x_train[:])
    assert torch.equal(first.x_test[:], again.x_test[:])
    assert torch.equal(first.y_train, again.y_train) and first.notes == again.notes


def test_batches_equal_todays_arithmetic_per_element(tmp_path, cache):
    _noise(tmp_path, {"a": 20, "b": 20}, size=(7, 4))
    ds = load_dataset(f"folder:{tmp_path}")
    files = sorted(str(p) for p in tmp_path.glob("*/*.png"))
    train = [f for f in files if f not in _test_files(ds, files)]
    x = _today(train, (4, 7), grey=False)
    # the statistics: exact, so within float32 rounding of torch's float32 reduction
    std, mean = torch.std_mean(x, dim=[0, 2, 3])
    assert torch.allclose(ds.x_train.mean, mean, rtol=2e-6, atol=0)
    assert torch.allclose(ds.x_train.std, std, rtol=2e-6, atol=0)
    # the per-element arithmetic: exactly standardize's, given those statistics
    expected = x.sub(ds.x_train.mean.view(1, 3, 1, 1)).div(ds.x_train.std.view(1, 3, 1, 1))
    assert torch.equal(ds.x_train[:], expected)
    idx = torch.tensor([[3, 0, 5], [1, 1, 2]])  # (seeds, batch) as the fused loop indexes
    assert torch.equal(ds.x_train[idx], expected[idx])


def _test_files(ds, files):
    """The files of the test split (the loader's stratified split, reproduced by pixels)."""
    x = _today(files, (4, 7), grey=False)
    u8 = torch.from_numpy(np.round(x.numpy() * 255).astype(np.uint8))
    test_rows = {ds.x_test.raw(i).numpy().tobytes() for i in range(ds.test_size)}
    return {f for f, row in zip(files, u8) if row.numpy().tobytes() in test_rows}


def test_deep_and_transparent_images_are_stored_as_float(tmp_path, cache):
    _noise(tmp_path, {"a": 5, "b": 5}, mode="L")
    deep = np.array([[0, 1000, 30000], [40000, 60000, 65535]], dtype=np.uint16)
    Image.fromarray(deep).resize((6, 5)).save(tmp_path / "a" / "deep.png")
    ds = load_dataset(f"folder:{tmp_path}")
    assert ds.x_train.stored.dtype == torch.float32
    files = sorted(str(p) for p in tmp_path.glob("*/*.png"))
    x = _today(files, (5, 6), grey=True)
    train_rows = {row.numpy().tobytes() for row in ds.x_train.raw(slice(None))}
    assert {row.numpy().tobytes() for row in x} >= train_rows  # the same float32 pixels
    a, _ = standardize(ds.x_train.raw(slice(None)).clone(), ds.x_test.raw(slice(None)).clone())
    assert torch.allclose(ds.x_train[:], a, rtol=0, atol=1e-5)


@settings(max_examples=40, deadline=None)
@given(
    pixels=st.lists(st.integers(0, 255), min_size=6, max_size=6),
    mean=st.floats(0.0, 1.0, width=32),
    std=st.floats(2**-10, 2.0, width=32),
)
def test_uint8_reads_are_bit_identical_to_float_standardisation(pixels, mean, std):
    stored = torch.tensor(pixels, dtype=torch.uint8).view(1, 2, 3)
    m, s = torch.tensor([mean, mean / 2]), torch.tensor([std, std * 3])
    images = StandardizedImages(stored, m, s)
    as_float = torch.from_numpy(stored.numpy().astype(np.float32) / np.float32(255.0))
    assert torch.equal(images[0:1], (as_float - m.view(1, 2, 1)) / s.view(1, 2, 1))


def test_a_changed_file_or_setting_decodes_again(tmp_path, cache, capsys):
    _noise(tmp_path, {"a": 6, "b": 6})
    before = load_dataset(f"folder:{tmp_path}")
    capsys.readouterr()
    target = tmp_path / "a" / "000.png"
    Image.fromarray(np.zeros((5, 6, 3), dtype=np.uint8)).save(target)
    os.utime(target, ns=(time.time_ns(), time.time_ns() + 10**9))  # a new mtime, surely
    after = load_dataset(f"folder:{tmp_path}")
    assert "decoded 12 images" in capsys.readouterr().err
    assert not torch.equal(before.x_train.mean, after.x_train.mean)
    resized = load_dataset(f"folder:{tmp_path}", image_size=4)
    assert "decoded 12 images" in capsys.readouterr().err and resized.input_shape == (3, 4, 4)
    assert len(_entries(cache)) == 3


@pytest.mark.parametrize("damage", ["truncate", "flip", "meta"])
def test_a_damaged_cache_is_rebuilt_never_read(tmp_path, cache, capsys, damage):
    _noise(tmp_path, {"a": 6, "b": 6})
    good = load_dataset(f"folder:{tmp_path}").x_train[:]
    (entry,) = (cache / "decoded").iterdir()
    data = entry / "train.npy"
    if damage == "truncate":
        data.write_bytes(data.read_bytes()[:-7])
    elif damage == "flip":
        raw = bytearray(data.read_bytes())
        raw[-3] ^= 0xFF
        data.write_bytes(bytes(raw))
    else:
        (entry / "meta.json").write_text("{not json")
    capsys.readouterr()
    again = load_dataset(f"folder:{tmp_path}")
    assert "decoded 12 images" in capsys.readouterr().err
    assert torch.equal(again.x_train[:], good)
    assert json.loads((entry / "meta.json").read_text())["format"] >= 1  # rebuilt in place


def test_an_unwritable_cache_still_loads(tmp_path, monkeypatch, capsys):
    _noise(tmp_path / "imgs", {"a": 6, "b": 6})
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("POOLSTRIDE_CACHE_DIR", str(blocker / "cache"))  # cannot be created
    ds = load_dataset(f"folder:{tmp_path / 'imgs'}")
    assert "no cache (cache folder not writable)" in capsys.readouterr().err
    assert ds.train_size + ds.test_size == 12 and ds.x_train[:].dtype == torch.float32


def _load_in_child(path, cache_dir, out):
    os.environ["POOLSTRIDE_CACHE_DIR"] = cache_dir
    ds = load_dataset(f"folder:{path}")
    out.put(ds.x_train[:].numpy().tobytes())


def test_a_build_that_loses_the_race_uses_the_winners_entry(cache):
    def fill(value):
        def write(allocate):
            allocate("x", (3,), np.uint8)[:] = value
            return {"by": value}

        return write

    def loser(allocate):  # another process publishes while this one is still decoding
        build_entry("k", fill(1), mmap=False)
        return fill(2)(allocate)

    entry = build_entry("k", loser, mmap=True)
    assert entry.meta["by"] == 1 and entry.arrays["x"].tolist() == [1, 1, 1] and entry.mapped
    assert _entries(cache) == ["k"]  # the loser's temporary folder is gone
    assert open_entry("k", mmap=False).arrays["x"].tolist() == [1, 1, 1]


def test_leftovers_of_killed_builds_are_swept_after_a_day(cache):
    decoded = cache / "decoded"
    old, fresh = decoded / ".dead.x1", decoded / ".other.x2"
    for path in (old, fresh):
        path.mkdir(parents=True)
        (path / "train.npy").write_bytes(b"half")
    day_ago = time.time() - 2 * 24 * 3600
    os.utime(old, (day_ago, day_ago))
    build_entry("k", lambda allocate: {"by": 0}, mmap=False)
    assert not old.exists() and fresh.exists()  # a build in progress elsewhere is kept


@pytest.mark.slow
def test_two_processes_building_at_once_agree_and_leave_one_entry(tmp_path, cache):
    _noise(tmp_path / "imgs", {"a": 300, "b": 300}, size=(32, 32))  # long enough to overlap
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [
        ctx.Process(target=_load_in_child, args=(tmp_path / "imgs", str(cache), out))
        for _ in range(2)
    ]
    for p in procs:
        p.start()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    expected = load_dataset(f"folder:{tmp_path / 'imgs'}").x_train[:].numpy().tobytes()
    assert results == [expected, expected]
    assert len(_entries(cache)) == 1  # no temporary or stale folder left behind
