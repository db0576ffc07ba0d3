"""Ray backend: a CPU grid with 2 parallel workers vs 1, on one local Ray instance.

One local Ray instance (127.0.0.1, ``num_cpus`` = cores, no dashboard) serves every phase.
A warm-up grid first starts Ray's worker processes (torch imported, data loaded), so the
timed phases compare scheduling, not process start-up. Then the same grid (MNIST-1D,
``simple``, 4 variants x 2 seeds, 400 steps by default) runs with ``workers=1`` (one task at a
time, all cores' threads), ``workers=1`` with one thread (task-level scaling alone) and
``workers=2`` (two tasks at a time, ``cores // 2`` threads each), alternating ``--repeat``
times; the best time of each is kept. Prints the times and both speed-ups. Run from the repository root (needs ``pip install 'poolstride[ray]'``)::

    .venv/bin/python bench/ray_scaling.py
    .venv/bin/python bench/ray_scaling.py --steps 1500 --repeat 2
"""

from __future__ import annotations

import argparse
import time


def main() -> None:
    import ray

    from poolstride.experiment.config import CompareConfig
    from poolstride.experiment.cores import cpu_count
    from poolstride.experiment.grid import run_grid
    from poolstride.experiment.store import Store

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--variants", default="max,avg,conv,none")
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()

    cores = cpu_count()
    grid = CompareConfig(
        variants=args.variants, seeds=args.seeds, steps=args.steps, device="cpu"
    ).runs()
    print(
        f"grid: {len(grid)} runs (mnist1d, simple, {args.steps} steps); local Ray with "
        f"{cores} CPUs",
        flush=True,
    )
    ray.init(
        num_cpus=cores,
        include_dashboard=False,
        log_to_driver=False,
        configure_logging=False,
        _node_ip_address="127.0.0.1",
    )
    try:
        warm = CompareConfig(variants=("max", "avg"), seeds=1, steps=5, device="cpu").runs()
        run_grid(warm, Store(":memory:"), workers=2, backend="ray", validate_first=False)
        # (workers, threads per task): 1 worker with every core's threads, 1 worker with 1
        # thread (pure task-level scaling), 2 workers with cores // 2 threads each
        setups = [(1, cores), (1, 1), (2, max(1, cores // 2))]
        best = {setup: float("inf") for setup in setups}
        accs = {}
        for _ in range(args.repeat):
            for workers, threads in setups:
                t0 = time.perf_counter()
                records = run_grid(
                    grid,
                    Store(":memory:"),
                    workers=workers,
                    threads=threads,
                    backend="ray",
                    batch_seeds=False,
                )
                elapsed = time.perf_counter() - t0
                best[workers, threads] = min(best[workers, threads], elapsed)
                assert all(r.finished for r in records), [r.reason for r in records]
                accs[workers, threads] = [r.metrics["test_acc"] for r in records]
                print(f"  {workers} worker(s) x {threads} thread(s): {elapsed:6.1f} s", flush=True)
    finally:
        ray.shutdown()
    two = best[2, max(1, cores // 2)]
    for (workers, threads), t in best.items():
        print(f"Ray {workers} worker(s) x {threads} thread(s): {t:6.1f} s")
    print(f"speed-up, 2 workers vs 1 worker with all {cores} threads: {best[1, cores] / two:.2f}x")
    print(f"speed-up, 2 workers vs 1 worker with 1 thread:  {best[1, 1] / two:.2f}x")
    # thread counts change float summation order, so accuracies may differ in a sample or two
    diff = max(abs(a - b) for a, b in zip(accs[1, 1], accs[2, max(1, cores // 2)]))
    print(f"largest test-accuracy difference, 1 vs 2 workers: {100 * diff:.1f} points")


if __name__ == "__main__":
    main()
