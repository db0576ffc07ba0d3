"""Does the retaining allocator pay? Step time, page faults and system share, side by side.

For three models — MNIST-1D ``simple`` (1x40, default width 32), CIFAR-size ``simple`` (3x32x32,
width 64) and ``resnet20`` (3x32x32, default width 16) — at batch 128 and one thread (how
``compare`` trains), each allocator (``default``: glibc as it comes; ``retain``: the
``mallopt`` settings of ``poolstride.experiment.allocator``) trains in a fresh process through
``poolstride.experiment.train.train``: a few warm-up steps, then the measured ones. Rounds
alternate the two allocators so machine load hits both alike. Printed per model: median step
time (wall) and CPU time (user + system, steadier on a loaded machine), minor page faults per
step, the system share of the loop's CPU time and peak RSS, and the ratios retain / default.

Usage: .venv/bin/python bench/allocator.py [--rounds 2] [--scale 1.0]
(``--scale`` multiplies the step counts; a minute or two at 1.0 on a quiet 2-core machine.)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

# name -> (model, input shape, width, warm-up steps, measured steps)
MODELS = {
    "mnist1d simple": ("simple", (1, 40), None, 20, 200),
    "cifar simple w64": ("simple", (3, 32, 32), 64, 3, 15),
    "resnet20 3x32x32": ("resnet20", (3, 32, 32), None, 2, 6),
}
ALLOCATORS = ("default", "retain")


def child(name: str, allocator: str, scale: float) -> None:
    """Train ``name`` with ``allocator`` in this (fresh) process; print one JSON line."""
    from poolstride.experiment import allocator as alloc

    state = alloc.apply(allocator)  # first: before any large allocation
    import resource

    import torch

    from poolstride.experiment.config import RunConfig
    from poolstride.experiment.train import train
    from poolstride.models import build_model

    torch.set_num_threads(1)
    model_name, shape, width, warm, steps = MODELS[name]
    steps = max(2, round(steps * scale))
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1024, *shape, generator=g)
    y = torch.randint(0, 10, (1024,), generator=g)
    torch.manual_seed(0)
    model = build_model(model_name, "max", shape, 10, width=width)
    cfg = dict(batch_size=128, log_every=10_000, eval_points=1, schedule="constant")
    train(model, x, y, RunConfig(steps=warm, **cfg))  # warm-up: the heap reaches its size
    res = train(model, x, y, RunConfig(steps=steps, **cfg))
    cpu = res.train_user_s + res.train_system_s
    print(
        json.dumps(
            {
                "allocator": state,
                "step_ms": 1000 * res.train_time_s / steps,
                "cpu_ms": 1000 * cpu / steps,
                "faults_per_step": res.train_minor_faults / steps,
                "system_share": res.train_system_s / cpu if cpu else 0.0,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


def run_child(name: str, allocator: str, scale: float) -> dict:
    env = dict(os.environ)
    env.pop("POOLSTRIDE_ALLOCATOR", None)
    out = subprocess.run(
        [sys.executable, __file__, "--child", name, allocator, "--scale", str(scale)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--child", nargs=2, metavar=("MODEL", "ALLOCATOR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.scale)
        return

    import torch

    print(
        f"torch {torch.__version__}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, "
        f"batch 128, 1 thread, {args.rounds} round(s), fresh process per measurement"
    )
    results: dict[tuple[str, str], list[dict]] = {}
    start = time.perf_counter()
    for r in range(args.rounds):
        for name in MODELS:
            order = ALLOCATORS if r % 2 == 0 else ALLOCATORS[::-1]
            for allocator in order:
                results.setdefault((name, allocator), []).append(
                    run_child(name, allocator, args.scale)
                )

    def med(name, allocator, key):
        return statistics.median(m[key] for m in results[(name, allocator)])

    head = (
        f"{'model':18} {'allocator':9} {'step ms':>8} {'CPU ms':>8} {'faults/step':>12} "
        f"{'system':>7} {'peak RSS':>9}"
    )
    print(head)
    print("-" * len(head))
    for name in MODELS:
        for allocator in ALLOCATORS:
            state = results[(name, allocator)][0]["allocator"]
            print(
                f"{name:18} {state:9} {med(name, allocator, 'step_ms'):8.1f} "
                f"{med(name, allocator, 'cpu_ms'):8.1f} "
                f"{med(name, allocator, 'faults_per_step'):12,.0f} "
                f"{100 * med(name, allocator, 'system_share'):6.1f}% "
                f"{med(name, allocator, 'peak_rss_mb'):7.0f} MB"
            )
        ratio = med(name, "retain", "step_ms") / med(name, "default", "step_ms")
        cpu = med(name, "retain", "cpu_ms") / med(name, "default", "cpu_ms")
        faults = med(name, "retain", "faults_per_step") / max(
            1.0, med(name, "default", "faults_per_step")
        )
        rss = med(name, "retain", "peak_rss_mb") / med(name, "default", "peak_rss_mb")
        print(
            f"{'':18} retain / default: step time {ratio:.2f}x (speed-up {1 / ratio:.2f}x), "
            f"CPU time {cpu:.2f}x, faults {faults:.3f}x, peak RSS {rss:.2f}x"
        )
    print(f"load {os.getloadavg()[0]:.1f} at the end; {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
