"""What building ``subsample`` as the strided conv saves: MACs and time, side by side.

For ``simple`` on MNIST-1D (1x40), ``simple`` on 3x32x32 and ``resnet20`` on 3x32x32, the
model built with ``subsample`` (the convolution in front of each site at stride 2, as
``models.layer_factories.strides_conv`` builds it) against the same model built the old way
(the convolution at stride 1, then keeping every 2nd output: ``Subsample`` passed as a class,
which the builders do not fold). Both have the same weights and compute the same function.
Printed per model: MACs per example (``poolstride.analysis.profile``) and the median time of
one training step (forward + backward + SGD) at batch 128 on one thread, the two models
alternating in every round so machine load hits both alike; and the ratios strided / decimated.

Usage: .venv/bin/python bench/strided_subsample.py [--rounds 5] [--steps 3]
"""

from __future__ import annotations

import argparse
import statistics

import torch
from sgd_step import step_time  # bench/sgd_step.py, beside this script

from poolstride.analysis import profile
from poolstride.layers.reshaping import Subsample
from poolstride.models import build_model

MODELS = {
    "mnist1d simple": ("simple", (1, 40)),
    "cifar simple": ("simple", (3, 32, 32)),
    "resnet20": ("resnet20", (3, 32, 32)),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, 1 thread, batch 128, {args.rounds} rounds")
    print(
        f"{'model':16} {'MACs strided':>13} {'decimated':>11} {'ratio':>6}   "
        f"{'step ms strided':>15} {'decimated':>10} {'ratio':>6}"
    )
    for label, (name, shape) in MODELS.items():
        torch.manual_seed(0)
        strided = build_model(name, "subsample", shape, 10)
        torch.manual_seed(0)
        decimated = build_model(name, Subsample, shape, 10)
        macs = [profile(m, shape).totals.macs for m in (strided, decimated)]
        x, y = torch.randn(128, *shape), torch.randint(0, 10, (128,))
        for m in (strided, decimated):  # warm-up
            step_time(m, x, y, 1)
        times: dict[int, list[float]] = {0: [], 1: []}
        for _ in range(args.rounds):
            for i, m in enumerate((strided, decimated)):
                times[i].append(step_time(m, x, y, args.steps))
        ms = [1000 * statistics.median(times[i]) for i in (0, 1)]
        print(
            f"{label:16} {macs[0]:>13,} {macs[1]:>11,} {macs[0] / macs[1]:>6.3f}   "
            f"{ms[0]:>15.1f} {ms[1]:>10.1f} {ms[0] / ms[1]:>6.3f}"
        )


if __name__ == "__main__":
    main()
