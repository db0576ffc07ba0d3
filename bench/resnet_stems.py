"""ResNet stems side by side: stem MACs and training-step time of the whole model.

The ``resnet-stem`` study times each stem in its own grid, so on a shared machine its step
times also measure the load of the moment. Here the three stems (``resnet20,stem=NAME`` at
width 16 on 3x32x32, the study's cpu model) alternate in every round, one thread, batch 64:
printed per stem are the stem's and the whole model's MACs (``poolstride.analysis.profile``),
the median time of one training step (forward + backward + SGD), and each ratio to
``conv7-pool`` (a stride-1 7x7 conv followed by two max-pools).

Usage: .venv/bin/python bench/resnet_stems.py [--rounds 7] [--steps 3] [--width 16]
"""

from __future__ import annotations

import argparse
import statistics

import torch
from sgd_step import step_time  # bench/sgd_step.py, beside this script

from poolstride.analysis import profile
from poolstride.models import build_model

STEMS = ("conv7s2-max", "conv7-pool", "deep3x3")
SHAPE = (3, 32, 32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--width", type=int, default=16)
    args = parser.parse_args()
    torch.set_num_threads(1)
    models = {
        s: build_model(f"resnet20,stem={s}", "subsample", SHAPE, 10, width=args.width)
        for s in STEMS
    }
    stem_macs = {s: profile(m.features[0], SHAPE).totals.macs for s, m in models.items()}
    macs = {s: profile(m, SHAPE).totals.macs for s, m in models.items()}
    x, y = torch.randn(64, *SHAPE), torch.randint(0, 10, (64,))
    for m in models.values():  # warm-up
        step_time(m, x, y, 1)
    times: dict[str, list[float]] = {s: [] for s in STEMS}
    for _ in range(args.rounds):
        for s, m in models.items():
            times[s].append(step_time(m, x, y, args.steps))
    ms = {s: 1000 * statistics.median(t) for s, t in times.items()}
    ref = "conv7-pool"
    print(
        f"torch {torch.__version__}, 1 thread, batch 64, width {args.width}, {args.rounds} rounds"
    )
    print(
        f"{'stem':12} {'stem MACs':>10} {'ratio':>6} {'model MACs':>11} {'ratio':>6} "
        f"{'step ms':>8} {'ratio':>6}"
    )
    for s in STEMS:
        print(
            f"{s:12} {stem_macs[s]:>10,} {stem_macs[s] / stem_macs[ref]:>6.3f} "
            f"{macs[s]:>11,} {macs[s] / macs[ref]:>6.3f} {ms[s]:>8.1f} {ms[s] / ms[ref]:>6.3f}"
        )


if __name__ == "__main__":
    main()
