"""Wall time of the default `poolstride compare` grid next to a plain PyTorch loop.

Both sides train the same models (``simple`` on MNIST-1D, the default variants and seeds)
for the same number of steps with the same batch size, optimiser and cosine schedule, side by
side in this one process. The plain loop is what a first script looks like: a DataLoader over
a TensorDataset with shuffling, ``loss.item()`` every step, ``zero_grad()``, the stock Adam
and ``CosineAnnealingLR``, and PyTorch's default thread count. Poolstride's time includes
everything it measures after training (shift consistency, feature stability, gradient flow,
throughput); the plain loop only trains and evaluates accuracy, so the ratio is conservative.

    .venv/bin/python bench/compare_speed.py                 # the full default grid
    .venv/bin/python bench/compare_speed.py --steps 200 --seeds 1   # a quick look
"""

from __future__ import annotations

import argparse
import os
import time

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from poolstride.data import load_dataset
from poolstride.experiment.api import compare
from poolstride.experiment.config import CompareConfig
from poolstride.models import build_model


def plain_loop(variants, seeds, steps, batch_size, lr, threads):
    """The naive baseline: DataLoader, .item() per step, stock optimiser and scheduler."""
    saved = torch.get_num_threads()
    torch.set_num_threads(threads)
    ds = load_dataset("mnist1d")
    accs = {}
    start = time.perf_counter()
    try:
        for variant in variants:
            for seed in seeds:
                torch.manual_seed(seed)
                model = build_model("simple", variant, ds.input_shape, ds.num_classes)
                opt = torch.optim.Adam(model.parameters(), lr=lr)
                sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
                loader = DataLoader(TensorDataset(ds.x_train, ds.y_train),
                                    batch_size=batch_size, shuffle=True, drop_last=True)
                step, losses = 0, []
                model.train()
                while step < steps:
                    for xb, yb in loader:
                        opt.zero_grad()
                        loss = F.cross_entropy(model(xb), yb)
                        loss.backward()
                        opt.step()
                        sched.step()
                        losses.append(loss.item())
                        step += 1
                        if step == steps:
                            break
                model.eval()
                with torch.no_grad():
                    pred = model(ds.x_test).argmax(1)
                accs.setdefault(variant, []).append((pred == ds.y_test).float().mean().item())
    finally:
        torch.set_num_threads(saved)
    return time.perf_counter() - start, accs


def main() -> None:
    default = CompareConfig()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--variants", default=",".join(default.variants))
    parser.add_argument("--seeds", type=int, default=len(default.seeds))
    parser.add_argument("--steps", type=int, default=default.steps)
    parser.add_argument("--skip-plain-1thread", action="store_true",
                        help="skip the plain loop's single-thread run")
    args = parser.parse_args()
    variants = [v for v in args.variants.split(",") if v]
    seeds = list(range(args.seeds))
    bs, lr = default.batch_size, default.lr
    load_dataset("mnist1d")  # generate/cache once so neither side pays for it
    print(f"grid: mnist1d, simple, variants {','.join(variants)}, {len(seeds)} seeds, "
          f"{args.steps} steps, batch {bs}; torch {torch.__version__}, "
          f"{os.cpu_count()} CPUs visible, default threads {torch.get_num_threads()}")

    t0, c0 = time.perf_counter(), time.process_time()
    res = compare(variants=variants, seeds=seeds, steps=args.steps, device="cpu")
    ours, ours_cpu = time.perf_counter() - t0, time.process_time() - c0
    train_only = sum(r.metrics["train_time_s"] for r in res.finished)
    train_cpu = sum(r.metrics["train_cpu_s"] for r in res.finished)
    print(f"poolstride compare: {ours:.1f} s", flush=True)

    threads = torch.get_num_threads()
    c0 = time.process_time()
    plain, plain_acc = plain_loop(variants, seeds, args.steps, bs, lr, threads)
    plain_cpu = time.process_time() - c0
    print(f"plain loop, default threads: {plain:.1f} s", flush=True)
    rows = [("poolstride compare (all metrics)", ours, ours_cpu, None),
            ("  of which training loops", train_only, train_cpu, None),
            (f"plain loop, {threads} threads (default)", plain, plain_cpu, plain_acc)]
    if not args.skip_plain_1thread and threads != 1:
        c0 = time.process_time()
        plain1, plain1_acc = plain_loop(variants, seeds, args.steps, bs, lr, 1)
        rows.append(("plain loop, 1 thread", plain1, time.process_time() - c0, plain1_acc))
    print(f"\n{'':40s} {'wall s':>8s} {'× ours':>7s} {'CPU s':>8s} {'× ours':>7s}")
    for label, seconds, cpu, _ in rows:
        print(f"{label:40s} {seconds:8.1f} {seconds / ours:7.2f} {cpu:8.1f} "
              f"{cpu / ours_cpu:7.2f}")
    print(f"(load average now: {os.getloadavg()[0]:.1f}; wall times on a shared machine "
          "are only comparable when the load stayed the same)")
    print("\nmean test accuracy % (poolstride | plain loops):")
    for v in variants:
        mine = 100 * res.summary[v]["test_acc"].mean
        others = " | ".join(f"{100 * sum(acc[v]) / len(acc[v]):.1f}" for *_, acc in rows
                            if acc is not None)
        print(f"  {v:10s} {mine:5.1f} | {others}")


if __name__ == "__main__":
    main()
