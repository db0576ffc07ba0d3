"""The default `poolstride compare` grid vs a plain per-run PyTorch loop, side by side.

Both sides train the same configurations — by default those of ``poolstride compare`` with
no options (MNIST-1D, the `simple` CNN, variants of ``DEFAULT_VARIANTS``, seeds 0-2,
``CompareConfig().steps`` Adam steps of batch 128, cosine schedule):

- poolstride: ``poolstride.experiment.grid.run_grid`` with the defaults of
  ``poolstride compare`` (one worker process per core, seed batching where it pays) into a
  fresh store. It also measures what compare stores for every run (10 test evaluations
  along the way, shift consistency, throughput, cost, gradient norms);
- plain: one run after another in this process, the way a tutorial writes it — a
  ``DataLoader`` over a ``TensorDataset`` (shuffle, batch 128), ``loss.item()`` every step,
  ``CosineAnnealingLR``, torch's default thread count, test accuracy once at the end.

Prints both wall times, their ratio, each side's per-variant test accuracy (mean and 95% CI
over seeds) and whether the two means fall within each other's CIs, and the peak resident
memory of this process and of its largest worker. Run from the repository root::

    .venv/bin/python bench/grid_speed.py            # the full default grid (minutes)
    .venv/bin/python bench/grid_speed.py --steps 300 --seeds 2   # a quick look
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset


def plain_run(ds, variant: str, seed: int, steps: int, batch: int, lr: float) -> float:
    """A textbook training loop; returns the final test accuracy."""
    from poolstride.models import build_model

    torch.manual_seed(seed)
    model = build_model("simple", variant, ds.input_shape, ds.num_classes)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    loader = DataLoader(
        TensorDataset(ds.x_train, ds.y_train), batch_size=batch, shuffle=True, drop_last=True
    )
    losses, step = [], 0
    model.train()
    while step < steps:
        for xb, yb in loader:
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            losses.append(loss.item())
            step += 1
            if step == steps:
                break
    model.eval()
    with torch.no_grad():
        pred = torch.cat(
            [model(ds.x_test[i : i + 1000]).argmax(1) for i in range(0, len(ds.x_test), 1000)]
        )
    return float((pred == ds.y_test).float().mean())


class TreeMemory:
    """Samples the proportional set size (PSS: shared library pages split between the
    processes sharing them) of this process and all its descendants; keeps the peak sum.
    Linux only (reads /proc); elsewhere ``peak_mib`` stays None."""

    def __init__(self, every: float = 0.2):
        import threading

        self.peak_mib = None
        self._every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        if os.path.exists("/proc/self/smaps_rollup"):
            self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self):
        while not self._stop.is_set():
            total = sum(_pss_kib(pid) for pid in _tree(os.getpid())) / 1024
            self.peak_mib = max(self.peak_mib or 0.0, total)
            self._stop.wait(self._every)


def _tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    todo.extend(int(c) for c in fh.read().split())
        except OSError:
            pass
    return out


def _pss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def max_rss_mib(who: int) -> float:
    rss = resource.getrusage(who).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 2**10


def main() -> None:
    from poolstride.data import load_dataset
    from poolstride.experiment.config import DEFAULT_VARIANTS, CompareConfig
    from poolstride.experiment.cores import cpu_count, resolve_workers
    from poolstride.experiment.grid import run_grid
    from poolstride.experiment.stats import mean_ci
    from poolstride.experiment.store import Store

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    default = CompareConfig()  # the grid `poolstride compare` runs with no options
    ap.add_argument("--steps", type=int, default=default.steps)
    ap.add_argument("--seeds", type=int, default=len(default.seeds))
    ap.add_argument("--variants", default=",".join(DEFAULT_VARIANTS))
    ap.add_argument("--workers", type=int, default=None, help="default: one per core")
    ap.add_argument("--batch-seeds", choices=("auto", "on", "off"), default="auto")
    ap.add_argument("--skip-plain", action="store_true", help="time only poolstride")
    args = ap.parse_args()

    variants = tuple(v.strip() for v in args.variants.split(",") if v.strip())
    grid = CompareConfig(variants=variants, seeds=args.seeds, steps=args.steps, device="cpu")
    batch_seeds = {"auto": None, "on": True, "off": False}[args.batch_seeds]
    workers = resolve_workers(args.workers)
    ds = load_dataset(grid.dataset)  # generated once here (cached on disk for both sides)
    print(
        f"grid: {grid.dataset}, model {grid.model}, {len(variants)} variants x "
        f"{len(grid.seeds)} seeds, {grid.steps} steps of batch {grid.batch_size}; "
        f"{cpu_count()} cores; torch {torch.__version__}",
        flush=True,
    )

    with tempfile.TemporaryDirectory() as tmp:
        with TreeMemory() as memory:
            t0 = time.perf_counter()
            records = run_grid(
                grid.runs(), Store(tmp), workers=workers, threads=None, batch_seeds=batch_seeds
            )
            fast_s = time.perf_counter() - t0
    fast = {
        v: [r.metrics["test_acc"] for r in records if r.variant == v and r.finished]
        for v in variants
    }
    fused = sorted({r.metrics.get("batched_seeds", 1) for r in records if r.finished})
    train_s = sum(r.metrics["train_time_s"] for r in records if r.finished)
    parent_mib, worker_mib = (
        max_rss_mib(resource.RUSAGE_SELF),
        max_rss_mib(resource.RUSAGE_CHILDREN),
    )
    print(
        f"poolstride: {fast_s:7.1f} s  ({workers} workers x "
        f"{max(1, cpu_count() // workers)} threads, seeds per model {fused}); training "
        f"loops {train_s:.1f} s summed over workers, the rest is start-up and the "
        "metrics compare stores",
        flush=True,
    )

    plain: dict[str, list[float]] = {v: [] for v in variants}
    plain_s = float("nan")
    if not args.skip_plain:
        t0 = time.perf_counter()
        for cfg in grid.runs():
            plain[cfg.variant].append(
                plain_run(ds, cfg.variant, cfg.seed, grid.steps, grid.batch_size, grid.lr)
            )
        plain_s = time.perf_counter() - t0
        print(
            f"plain loop: {plain_s:7.1f} s  ({torch.get_num_threads()} threads, DataLoader, "
            f".item() per step)",
            flush=True,
        )
        print(f"ratio plain / poolstride: {plain_s / fast_s:.2f}x")

    print(f"\ntest accuracy, mean [95% CI] over {len(grid.seeds)} seeds")
    print(f"{'variant':<10} {'poolstride':>24} {'plain loop':>24}  means within CIs")
    for v in variants:
        a = mean_ci(fast[v])
        line = f"{v:<10} {_fmt(a):>24}"
        if not args.skip_plain:
            b = mean_ci(plain[v])
            both = a.lo <= b.mean <= a.hi and b.lo <= a.mean <= b.hi
            line += f" {_fmt(b):>24}  {'yes' if both else 'NO'}"
        print(line)
    pss = "n/a" if memory.peak_mib is None else f"{memory.peak_mib:.0f} MiB"
    print(
        f"\npoolstride peak memory: {pss} PSS summed over the process tree; peak RSS "
        f"parent {parent_mib:.0f} MiB, largest worker {worker_mib:.0f} MiB (RSS counts "
        "shared torch library pages once per process)"
    )


def _fmt(s) -> str:
    return f"{100 * s.mean:5.1f}% [{100 * s.lo:5.1f}, {100 * s.hi:5.1f}]"


if __name__ == "__main__":
    main()
