"""Image folders decoded once: first load vs cached load, memory held, streamed vs in memory.

Two generated folders of JPEGs in 10 class folders (under ``/tmp/poolstride-bench-folders``,
made once): 20,000 images of 32x32 and 2,000 of 160x160. For each, every measurement runs in a
fresh process (nothing cached in memory from a previous one) with its own empty cache folder:

- **load**: ``load_dataset("folder:...")`` wall time the first time (scan + decode + write the
  cache) and the second time (scan + open the cache), median of ``--repeats``;
- **memory**: the process's peak RSS growth (``VmHWM`` reset after the imports) after loading
  from the cache, and after also reading one epoch of shuffled standardised batches of 128
  (each batch is float32: at 160x160 one is 39 MB), held in memory vs streamed from the
  memory-mapped cache, against the uint8 bytes of the images (the float32 tensors the loader
  used to hold are 4x those). ``private`` is ``RssAnon``; the rest of a streamed process's
  RSS is cache-file pages, which the kernel can drop and read again;
- **throughput**: in one process, the two ways alternate (``--rounds``): images per second of
  reading shuffled standardised batches, and training steps per second of the ``simple`` CNN
  (default width, batch 128, one thread) through ``poolstride.experiment.train.train``.

Usage: .venv/bin/python bench/folder_cache.py [--repeats 2] [--rounds 3] [--steps 30]
(a few minutes on a 2-core machine, most of it generating and decoding the folders once).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(tempfile.gettempdir()) / "poolstride-bench-folders"
# label -> (name, images, side, training steps per measurement at --steps 30)
FOLDERS = {
    "20,000 x 32x32": ("small", 20_000, 32, 30),
    "2,000 x 160x160": ("large", 2_000, 160, 4),
}
BATCH = 128


def generate(name: str, count: int, side: int) -> Path:
    """``count`` JPEGs of ``side`` x ``side`` in 10 class folders (smooth blobs plus noise)."""
    import numpy as np
    from PIL import Image

    folder = ROOT / f"{name}-{count}-{side}"
    done = folder / ".complete"
    if done.exists():
        return folder
    rng = np.random.default_rng(0)
    grid = np.linspace(-1, 1, side, dtype=np.float32)
    yy, xx = np.meshgrid(grid, grid, indexing="ij")
    for i in range(count):
        cls = i % 10
        (folder / f"class{cls}").mkdir(parents=True, exist_ok=True)
        cx, cy = rng.uniform(-0.5, 0.5, 2)
        blob = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) * (2 + cls))
        colour = rng.uniform(0, 255, 3) * blob[..., None]
        pixels = np.clip(colour + rng.normal(0, 20, (side, side, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(pixels, "RGB").save(folder / f"class{cls}" / f"{i:05d}.jpg", quality=90)
    done.write_text("")
    return folder


def status_kib(*fields: str) -> dict[str, int]:
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            key = line.split(":")[0]
            if key in fields:
                out[key] = int(line.split()[1])
    return out


def child_load(folder: str, stream: bool, epoch: bool) -> dict:
    """Load the folder (from the cache if present); optionally read one shuffled epoch."""
    import PIL.Image  # noqa: F401 - code, not data: loaded before the baseline
    import torch

    from poolstride.data import load_dataset

    torch.set_num_threads(1)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset VmHWM: peak growth from here on
    before = status_kib("VmRSS", "RssAnon")
    start = time.perf_counter()
    ds = load_dataset(f"folder:{folder}", stream=stream)
    load_s = time.perf_counter() - start
    loaded = status_kib("VmHWM", "RssAnon")
    if epoch:
        x = ds.x_train.to("cpu")
        perm = torch.randperm(len(x))
        for pos in range(0, len(x) - BATCH + 1, BATCH):
            x[perm[pos : pos + BATCH]]
    after = status_kib("VmHWM", "RssAnon")
    return {
        "load_s": load_s,
        "load_peak": (loaded["VmHWM"] - before["VmRSS"]) * 1024,
        "load_anon": (loaded["RssAnon"] - before["RssAnon"]) * 1024,
        "epoch_peak": (after["VmHWM"] - before["VmRSS"]) * 1024,
        "uint8_bytes": ds.x_train.nbytes + ds.x_test.nbytes,
    }


def child_speed(folder: str, rounds: int, steps: int) -> dict:
    """Batch reads and training steps per second, in memory vs streamed, alternating."""
    import torch

    from poolstride.data import load_dataset
    from poolstride.experiment.config import RunConfig
    from poolstride.experiment.train import train
    from poolstride.models import build_model

    torch.set_num_threads(1)
    views = {
        "memory": load_dataset(f"folder:{folder}").x_train.to("cpu"),
        "stream": load_dataset(f"folder:{folder}", stream=True).x_train.to("cpu"),
    }
    y = load_dataset(f"folder:{folder}").y_train
    cfg = RunConfig(steps=steps, batch_size=BATCH, log_every=10_000, eval_points=1)
    shape = tuple(views["memory"].shape[1:])
    reads: dict[str, list[float]] = {k: [] for k in views}
    trains: dict[str, list[float]] = {k: [] for k in views}
    for _ in range(rounds):
        for way, x in views.items():
            perm = torch.randperm(len(x))
            n = min(len(x), 100 * BATCH) // BATCH * BATCH
            start = time.perf_counter()
            for pos in range(0, n, BATCH):
                x[perm[pos : pos + BATCH]]
            reads[way].append(n / (time.perf_counter() - start))
            torch.manual_seed(0)
            model = build_model("simple", "max", shape, 10)
            res = train(model, x, y, cfg)
            trains[way].append(steps / res.train_time_s)
    return {
        "read_ips": {k: statistics.median(v) for k, v in reads.items()},
        "steps_ps": {k: statistics.median(v) for k, v in trains.items()},
    }


def run_child(*args: str, cache: Path) -> dict:
    env = {**os.environ, "POOLSTRIDE_CACHE_DIR": str(cache)}
    out = subprocess.run(
        [sys.executable, __file__, "--child", *args],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--child", nargs="+")
    args = parser.parse_args()
    if args.child:
        kind, folder, *rest = args.child
        if kind == "load":
            result = child_load(folder, rest[0] == "stream", rest[1] == "epoch")
        else:
            result = child_speed(folder, int(rest[0]), int(rest[1]))
        print(json.dumps(result))
        return

    mb = 1e6
    print(f"cores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.2f}; one thread each")
    for label, (name, count, side, steps) in FOLDERS.items():
        steps = max(2, round(steps * args.steps / 30))
        start = time.perf_counter()
        folder = generate(name, count, side)
        print(f"\n{label} JPEGs ({folder}, made in {time.perf_counter() - start:.0f} s)")
        first, cached = [], []
        for _ in range(args.repeats):
            with tempfile.TemporaryDirectory() as cache:
                first.append(run_child("load", str(folder), "memory", "-", cache=Path(cache)))
                cached.append(run_child("load", str(folder), "memory", "-", cache=Path(cache)))
        t_first = statistics.median(r["load_s"] for r in first)
        t_cached = statistics.median(r["load_s"] for r in cached)
        print(
            f"  load: first {t_first:.2f} s, cached {t_cached:.3f} s -> "
            f"{t_first / t_cached:.1f}x faster"
        )
        with tempfile.TemporaryDirectory() as cache:
            run_child("load", str(folder), "memory", "-", cache=Path(cache))  # build
            held = run_child("load", str(folder), "memory", "epoch", cache=Path(cache))
            streamed = run_child("load", str(folder), "stream", "epoch", cache=Path(cache))
            speed = run_child("speed", str(folder), str(args.rounds), str(steps), cache=Path(cache))
        size = held["uint8_bytes"]
        print(
            f"  images: {size / mb:.1f} MB as uint8 (as float32, the old in-memory form: "
            f"{4 * size / mb:.1f} MB)"
        )
        for way, r in (("in memory", held), ("streamed", streamed)):
            print(
                f"  memory {way}: loaded: peak +{r['load_peak'] / mb:.1f} MB "
                f"({r['load_peak'] / size:.2f}x the uint8 bytes; private "
                f"+{r['load_anon'] / mb:.1f} MB); with one epoch of batches: peak "
                f"+{r['epoch_peak'] / mb:.1f} MB ({r['epoch_peak'] / size:.2f}x)"
            )
        read, step = speed["read_ips"], speed["steps_ps"]
        print(
            f"  batch reads: in memory {read['memory']:,.0f} img/s, streamed "
            f"{read['stream']:,.0f} img/s -> streamed/in-memory {read['stream'] / read['memory']:.2f}"
        )
        print(
            f"  training steps (simple, batch {BATCH}): in memory {step['memory']:.2f}/s, "
            f"streamed {step['stream']:.2f}/s -> streamed/in-memory "
            f"{step['stream'] / step['memory']:.2f}"
        )


if __name__ == "__main__":
    main()
