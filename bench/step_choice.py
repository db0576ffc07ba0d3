"""Training in the configuration ``compare --autotune`` picks vs the default, side by side.

For each model and variant: :func:`poolstride.experiment.step_choice.choose_step` picks a
configuration (memory format x pooling implementation) as ``compare`` does; then the real
training loop (``train_fused``, the loop compare uses: forward, loss, backward, optimiser
step) runs ``--steps`` steps from the same initial weights in the default configuration
(contiguous, poolstride's kernels) and in the chosen one, alternating over ``--rounds``
rounds. Printed: the choice and why, the median step time of each, their ratio, and how far
apart the two loss curves end (float32: summation order only).

    .venv/bin/python bench/step_choice.py                        # MNIST-1D + 3x32x32 models
    .venv/bin/python bench/step_choice.py --folder /data/cifar10-mini --rounds 5

Without ``--folder`` the 2D models train on random 3x32x32 tensors (timing only; the loss
curves still compare the two configurations on the same data).
"""

from __future__ import annotations

import argparse
import statistics

import torch

from poolstride import kernels
from poolstride.data import Dataset
from poolstride.experiment import allocator, step_choice
from poolstride.experiment.config import RunConfig
from poolstride.experiment.seed_fusion import train_fused
from poolstride.experiment.workload import build, load_data, tensors_on_device

VARIANTS = ("max", "avg", "conv", "blur-max")


def random_images(n: int = 1024, classes: int = 10) -> Dataset:
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(n, 3, 32, 32, generator=g), torch.randint(0, classes, (n,), generator=g)
    names = tuple(str(c) for c in range(classes))
    return Dataset("random 3x32x32", x, y, x[:256], y[:256], classes, (3, 32, 32), names)


def loop(cfg: RunConfig, ds, choice: step_choice.StepChoice, steps: int):
    """``(seconds per step, loss curve)`` of ``steps`` steps of the training loop."""
    x, y, _, _ = tensors_on_device("cpu", ds)
    torch.manual_seed(0)
    model = build(cfg, ds)
    if choice.channels_last and x.ndim == 4:
        model = model.to(memory_format=torch.channels_last)
    run = RunConfig(**{**cfg.to_dict(), "steps": steps, "log_every": 1, "eval_points": 1})
    use = kernels.enabled() if choice.pooling_kernels is None else choice.pooling_kernels
    with kernels.use_kernels(use):
        (result,) = train_fused(model, [run], x, y, channels_last=choice.channels_last)
    return result.train_time_s / steps, result.curve["train_loss"]


def bench(title: str, cfg: RunConfig, ds, steps: int, rounds: int) -> None:
    print(f"\n{title}")
    for variant in VARIANTS:
        run = RunConfig(**{**cfg.to_dict(), "variant": variant})
        choice = step_choice.choose_step(run, dataset=ds)
        default = step_choice.default_step()
        print(f"  {variant:9s} trained in: {choice.config} -- {choice.reason}")
        if not choice.channels_last and choice.pooling_kernels is None:
            continue  # the default was kept
        times = {"default": [], "chosen": []}
        curves = {}
        for r in range(rounds):
            order = ("default", "chosen") if r % 2 == 0 else ("chosen", "default")
            for name in order:
                seconds, curves[name] = loop(
                    run, ds, default if name == "default" else choice, steps
                )
                times[name].append(seconds)
        d, c = statistics.median(times["default"]), statistics.median(times["chosen"])
        gap = max(abs(a - b) for a, b in zip(curves["default"], curves["chosen"]))
        print(
            f"  {'':9s} step {1000 * d:.1f} ms default vs {1000 * c:.1f} ms chosen: "
            f"{d / c:.2f}x; loss curves differ by at most {gap:.2e} over {steps} steps"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", help="an image folder (train/, test/) for the 2D models")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    allocator.apply("retain")
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, 1 thread, retaining allocator; {args.rounds} rounds")
    mnist = RunConfig(batch_size=128)
    bench("MNIST-1D, simple (default compare)", mnist, load_data(mnist), args.steps, args.rounds)
    if args.folder:
        images = RunConfig(dataset=f"folder:{args.folder}", batch_size=128)
        ds = load_data(images)
    else:
        images, ds = RunConfig(dataset="shapes2d", batch_size=128), random_images()
    bench(
        f"{ds.name}, simple w=64",
        RunConfig(**{**images.to_dict(), "width": 64}),
        ds,
        args.steps,
        args.rounds,
    )
    bench(
        f"{ds.name}, resnet20",
        RunConfig(**{**images.to_dict(), "model": "resnet20"}),
        ds,
        args.steps,
        args.rounds,
    )


if __name__ == "__main__":
    main()
