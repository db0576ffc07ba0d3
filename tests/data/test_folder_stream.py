"""Folders larger than the memory cap stream from the cache, with the same numbers."""

import dataclasses

import numpy as np
import pytest
import torch
from PIL import Image

from poolstride.data import load_dataset
from poolstride.data.memory_cap import memory_cap_bytes, streams
from poolstride.errors import PoolstrideError
from poolstride.experiment import workload
from poolstride.experiment.config import RunConfig
from poolstride.experiment.task import execute, execute_fused

METRICS = ("test_acc", "test_loss", "final_train_loss", "curve", "grad_norm_final")


@pytest.fixture
def folder(tmp_path):
    """Two classes of 6x6 images a small CNN can tell apart (bright vs dark centre)."""
    rng = np.random.default_rng(0)
    for cls, centre in (("bright", 200), ("dark", 40)):
        (tmp_path / cls).mkdir()
        for i in range(30):
            pixels = rng.integers(0, 256, size=(6, 6, 3), dtype=np.uint8)
            pixels[2:4, 2:4] = centre
            Image.fromarray(pixels, "RGB").save(tmp_path / cls / f"{i:02d}.png")
    return tmp_path


def test_stream_reads_the_same_batches_from_the_memory_map(folder):
    held = load_dataset(f"folder:{folder}")
    streamed = load_dataset(f"folder:{folder}", stream=True)
    assert not held.x_train.streamed and streamed.x_train.streamed
    idx = torch.randperm(held.train_size)[:16]
    assert torch.equal(held.x_train[idx], streamed.x_train[idx])
    sub_held = load_dataset(f"folder:{folder}", train_size=20, seed=3)
    sub_streamed = load_dataset(f"folder:{folder}", train_size=20, seed=3, stream=True)
    assert sub_streamed.x_train.streamed and sub_streamed.x_train.rows is not None
    assert torch.equal(sub_held.x_train[:], sub_streamed.x_train[:])


def test_a_folder_above_the_memory_cap_streams(folder):
    tiny = load_dataset(f"folder:{folder}", memory_cap=1e-6)  # 1 kB < 6.5 kB of pixels
    assert tiny.x_train.streamed
    assert not load_dataset(f"folder:{folder}", memory_cap=1.0).x_train.streamed
    assert streams(10, False, None) is False  # half the available memory is more than 10 B
    assert memory_cap_bytes(0.5) == 500_000_000
    with pytest.raises(PoolstrideError, match="memory_cap must be > 0 GB, got -1"):
        load_dataset(f"folder:{folder}", memory_cap=-1)


def test_training_streamed_equals_training_in_memory(folder):
    base = RunConfig(
        dataset=f"folder:{folder}",
        model="simple",
        depth=2,
        variant="max",
        steps=8,
        batch_size=8,
        eval_points=2,
        shift_samples=4,
        log_every=4,
    )
    held = execute(base)
    above_cap = dataclasses.replace(base, memory_cap=1e-6)  # 6.5 kB of pixels > 1 kB cap
    assert above_cap.key == base.key  # how pixels are read is not what the run is
    assert workload.load_data(above_cap).x_train.streamed
    streamed = execute(above_cap)
    for name in METRICS:
        assert streamed[name] == held[name], name
    # the seed-fused loop (compare's default) indexes (seeds, batch) rows: same there
    seeds = [dataclasses.replace(base, seed=s) for s in (0, 1)]
    held = execute_fused(seeds)
    streamed = execute_fused([dataclasses.replace(c, stream=True) for c in seeds])
    assert all(o.metrics is not None for o in held + streamed)
    for a, b in zip(held, streamed):
        for name in METRICS:
            assert a.metrics[name] == b.metrics[name], name


def test_stream_options_are_for_image_folders_only():
    with pytest.raises(PoolstrideError, match="--stream applies to image folders"):
        RunConfig(stream=True)
    with pytest.raises(PoolstrideError, match="--memory-cap applies to image folders"):
        RunConfig(memory_cap=2.0)
    with pytest.raises(PoolstrideError, match="memory_cap must be > 0 GB, got 0"):
        RunConfig(dataset="folder:x", memory_cap=0.0)
