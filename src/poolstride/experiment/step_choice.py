"""Which configuration a variant trains in: memory format and pooling implementation, measured.

A training step can run in several configurations that compute the same function
(:func:`poolstride.experiment.latency.configurations`): activations contiguous (NCHW) or
channels-last (2D inputs), and pooling served by poolstride's CPU kernels or by PyTorch's
ops. Which is fastest depends on the model, the input size and the machine: PyTorch's
channels-last convolutions can beat NCHW on one model and lose on another, and a variant
without pooling gains nothing from the kernels. :func:`choose_step` times one step of a
variant's model (seed 0, one training batch, on the device and threads the grid trains with)
in each configuration, interleaved, and picks the fastest when it beats the default
(contiguous, kernels as the process has them) by at least :data:`MATERIAL`; otherwise the
default stays, so a noisy timing cannot flip a grid between near-equal configurations.

The choice is made once per variant and grid, in the parent, and recorded with every run
(``train_step_config``, ``train_step_choice``); it is *not* part of a run's key: every
configuration computes the same function and results differ only by floating-point rounding
(summation order in the convolutions; the pooling kernels equal PyTorch's ops to the last
bit for max, and to rounding for averages -- see docs/speed.md for how close trained runs
come out).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import lru_cache

import torch

from poolstride import kernels
from poolstride.experiment.config import RunConfig
from poolstride.experiment.device import resolve_device
from poolstride.experiment.latency import configurations, label, time_configurations
from poolstride.experiment.workload import build, load_data, tensors_on_device

#: the fastest configuration replaces the default only when at least this much faster
MATERIAL = 0.10


@dataclass(frozen=True)
class StepChoice:
    """How a variant trains: ``channels_last`` activations (2D only) and ``pooling_kernels``
    (poolstride's kernels on or off; ``None``: as the process has them); ``config``, its
    name as the step timings name configurations (``"contiguous, poolstride pooling"``), and
    ``reason``, one line saying why (the timings when measured)."""

    channels_last: bool = False
    pooling_kernels: bool | None = None
    config: str = ""
    reason: str = "not tuned"


def default_step(
    channels_last: bool = False, reason: str = "not tuned", served: bool = True
) -> StepChoice:
    """The configuration a run trains in without tuning (``served``: poolstride's kernels
    serve some of its pooling, so the label names them when they are on)."""
    fmt = "channels_last" if channels_last else "contiguous"
    kernels_on = served and kernels.enabled() and kernels.available()
    config = label((fmt, "poolstride" if kernels_on else "pytorch"))
    return StepChoice(channels_last, None, config, reason)


def choose_step(
    cfg: RunConfig, *, channels_last: bool = False, threads: int = 1, dataset=None
) -> StepChoice:
    """The configuration ``cfg``'s variant trains fastest in (see the module docstring).

    ``channels_last``: the user asked for it (``--channels-last``), so only the pooling
    implementation is chosen. ``threads``: torch threads while timing (those of a worker).
    ``dataset``: time on this :class:`~poolstride.data.Dataset` instead of ``cfg``'s.
    Deterministic and ``amp`` runs keep the default (their timings would not apply, or the
    choice must not depend on the machine's noise). Cached per process (without
    ``dataset``)."""
    if cfg.deterministic:
        return default_step(channels_last, "default: --deterministic (not timed)")
    if cfg.amp != "none":
        return default_step(channels_last, f"default: --amp {cfg.amp} (not timed)")
    base = dataclasses.replace(cfg, seed=0, tensorboard_dir=None)
    if dataset is not None:
        return _measure(base, dataset, channels_last, max(1, int(threads)))
    return _choose(base, channels_last, max(1, int(threads)))


@lru_cache(maxsize=64)
def _choose(cfg: RunConfig, channels_last: bool, threads: int) -> StepChoice:
    return _measure(cfg, load_data(cfg), channels_last, threads)


def _measure(cfg: RunConfig, ds, channels_last: bool, threads: int) -> StepChoice:
    device = resolve_device(cfg.device)
    x_train, y_train, _, _ = tensors_on_device(str(device), ds)
    x, y = x_train[: cfg.batch_size], y_train[: cfg.batch_size]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = build(cfg, ds).to(device)
    forced = channels_last and x.ndim == 4
    served = _kernels_serve(model, x)
    options = [
        c
        for c in configurations(model, x)
        if (not forced or c[0] == "channels_last") and (c[1] == "pytorch" or served)
    ]
    default = default_step(forced, served=served).config
    if len(options) < 2:
        return default_step(forced, "default: the only configuration", served)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        ms = time_configurations(model, x, y, options)
    finally:
        torch.set_num_threads(before)
    best = min(ms, key=ms.__getitem__)
    timed = ", ".join(f"{name} {t:.1f} ms" for name, t in sorted(ms.items(), key=lambda i: i[1]))
    if best == default or default not in ms or ms[best] > (1 - MATERIAL) * ms[default]:
        reason = f"default: no configuration {MATERIAL:.0%} faster ({timed})"
        return default_step(forced, reason, served)
    fmt, pooling = next(c for c in options if label(c) == best)
    return StepChoice(
        channels_last=fmt == "channels_last",
        pooling_kernels=pooling == "poolstride",
        config=best,
        reason=f"fastest: {ms[default] / ms[best]:.2f}x the default's speed ({timed})",
    )


def _kernels_serve(model: torch.nn.Module, x: torch.Tensor) -> bool:
    """Whether poolstride's kernels serve any pooling call of ``model`` on ``x`` (if none do,
    timing the kernels "on" would time the same thing twice)."""
    if not (kernels.enabled() and kernels.available()):
        return False
    with kernels.dispatch_log() as calls, torch.no_grad():
        model.eval()(x[:2])
    model.train()
    return any(str(c["kernel"]).startswith("poolstride") for c in calls)


__all__ = ["MATERIAL", "StepChoice", "choose_step", "default_step"]
