"""How long does `poolstride.profile` take on torchvision ResNet-50 at 224x224 (CPU)?

Target: under 2 s. Measured side by side in one run, on the same model and input:

- a plain forward pass (eval, no grad) — the floor: profile runs the model once;
- `torch.utils.flop_counter.FlopCounterMode` around the same forward pass (a reference tool);
- `poolstride.profile(model, (3, 224, 224))` (table, MACs, pooling ops, receptive fields);
- the whole `poolstride profile torchvision:resnet50` command in a fresh process (imports and
  model construction included).

Usage: .venv/bin/python bench/profile_speed.py [--repeats 5] [--threads N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

import torch
import torchvision
from torch.utils.flop_counter import FlopCounterMode

from poolstride import profile


def timed(fn, repeats: int) -> tuple[float, float]:
    """Median and min wall time of ``fn()`` over ``repeats`` runs (after one warm-up)."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    start = time.perf_counter()
    model = torchvision.models.resnet50(weights=None).eval()
    build = time.perf_counter() - start
    x = torch.randn(1, 3, 224, 224)

    def forward():
        with torch.no_grad():
            model(x)

    def flop_counter():
        with FlopCounterMode(display=False), torch.no_grad():
            model(x)

    def ours():
        return profile(model, (3, 224, 224))

    rows = [
        ("plain forward (no grad)", *timed(forward, args.repeats)),
        ("FlopCounterMode forward", *timed(flop_counter, args.repeats)),
        ("poolstride.profile", *timed(ours, args.repeats)),
    ]
    base = rows[0][1]
    table = ours()
    print(
        f"torchvision resnet50, input 1x3x224x224, {args.threads} thread(s), torch {torch.__version__}"
    )
    print(f"model construction (not timed below): {build:.2f} s")
    print(f"{'what':28s} {'median s':>9s} {'min s':>7s} {'x forward':>10s}")
    for name, median, best in rows:
        print(f"{name:28s} {median:9.3f} {best:7.3f} {median / base:10.2f}")
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "poolstride", "profile", "torchvision:resnet50", "--format", "json"],
        capture_output=True,
        text=True,
    )
    command = time.perf_counter() - start
    print(f"{'CLI end to end (fresh proc)':28s} {command:9.3f}  (exit code {proc.returncode})")
    t = table.totals
    print(
        f"table: {len(table.rows)} rows, {t.params:,} params, {t.macs:,} MACs, receptive field {t.receptive_field}"
    )
    verdict = "under" if rows[2][1] < 2.0 else "OVER"
    print(f"profile median {rows[2][1]:.3f} s: {verdict} the 2 s target")


if __name__ == "__main__":
    main()
