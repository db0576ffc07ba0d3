"""Timing one training step of a model in each configuration it can run in.

A configuration is a memory format (``contiguous``; ``channels_last`` for 2D inputs) and a
pooling implementation (poolstride's CPU kernels, or PyTorch's ops). :func:`fastest_step`
times every configuration on copies of the model, interleaved, and reports the fastest, so a
variant is judged by its best implementation rather than by whichever one ran by default.
"""

from __future__ import annotations

import copy
import random
import statistics
import time
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from poolstride import kernels
from poolstride.experiment.device import synchronize

_WARMUP = 2
_REPEATS = 2  # back-to-back steps per configuration and round; the best one counts
_FORMATS = {"contiguous": torch.contiguous_format, "channels_last": torch.channels_last}


def _device(model: nn.Module, x: torch.Tensor) -> torch.device:
    param = next(model.parameters(), None)
    return param.device if param is not None else x.device


def configurations(model: nn.Module, x: torch.Tensor) -> list[tuple[str, str]]:
    """``(memory format, pooling kernels)`` pairs that apply to ``model`` on input ``x``."""
    formats = ["contiguous"] + (["channels_last"] if x.ndim == 4 else [])
    pooling = ["pytorch"]
    if kernels.available() and _device(model, x).type == "cpu":
        pooling.insert(0, "poolstride")
    return [(f, p) for f in formats for p in pooling]


def label(config: tuple[str, str]) -> str:
    """``("channels_last", "pytorch") -> "channels_last, pytorch pooling"``."""
    return f"{config[0]}, {config[1]} pooling"


class _Setup:
    """One configuration: a train-mode copy of the model and the input in its memory format."""

    def __init__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, config: tuple[str, str]):
        self.label = label(config)
        fmt = _FORMATS[config[0]]
        self.model = copy.deepcopy(model).train().to(memory_format=fmt)
        self.x = x.contiguous(memory_format=fmt)
        self.y = y
        self.use_kernels = config[1] == "poolstride"
        self.device = _device(model, x)

    def step(self) -> float:
        """One step (zero grads, forward, loss, backward) in seconds."""
        with kernels.use_kernels(self.use_kernels), torch.enable_grad():
            synchronize(self.device)
            start = time.perf_counter()
            self.model.zero_grad(set_to_none=True)
            F.cross_entropy(self.model(self.x), self.y).backward()
            synchronize(self.device)
            return time.perf_counter() - start

    def dispatch(self) -> list[str]:
        """Which implementation served each pooling call of one forward pass (distinct)."""
        with (
            kernels.use_kernels(self.use_kernels),
            torch.enable_grad(),
            kernels.dispatch_log() as calls,
        ):
            self.model(self.x)
        out: list[str] = []
        for c in calls:
            text = f"{c['op']} ({c['layout']}): {c['kernel']}"
            if c["reason"]:
                text += f" ({c['reason']})"
            if text not in out:
                out.append(text)
        return out


def fastest_step(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, rounds: int = 5
) -> dict[str, Any]:
    """Median training-step time of ``model`` on ``(x, y)`` in each configuration.

    Each configuration runs on its own deep copy (``model`` and its BatchNorm statistics are
    untouched): two warm-up steps, then ``rounds`` rounds in a shuffled order, each taking
    the best of two back-to-back steps. Returns ``step_ms`` (the fastest median, ms),
    ``step_config`` (its label, e.g. ``"channels_last, poolstride pooling"``),
    ``step_ms_by_config`` (label -> median ms) and ``downsampling_kernels`` (distinct
    ``"op (layout): kernel"`` strings of one forward pass in the fastest configuration).
    """
    with torch.random.fork_rng(devices=[]):  # a model with dropout must not move the global RNG
        return _fastest(model, x, y, rounds)


def _fastest(model: nn.Module, x: torch.Tensor, y: torch.Tensor, rounds: int) -> dict[str, Any]:
    setups = [_Setup(model, x, y, c) for c in configurations(model, x)]
    by_config = _median_ms(setups, rounds, warmup=_WARMUP, repeats=_REPEATS)
    best = min(by_config, key=by_config.__getitem__)
    return {
        "step_ms": by_config[best],
        "step_config": best,
        "step_ms_by_config": by_config,
        "downsampling_kernels": next(s for s in setups if s.label == best).dispatch(),
    }


def time_configurations(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    configs: list[tuple[str, str]],
    *,
    budget_s: float = 0.5,
    max_rounds: int = 15,
) -> dict[str, float]:
    """Median training-step ms of ``model`` on ``(x, y)`` in each of ``configs`` (label ->
    ms; see :func:`configurations`): each on its own deep copy, one warm-up step, then
    shuffled rounds, each taking the best of two back-to-back steps -- as many rounds (3 to
    ``max_rounds``) as fit ``budget_s`` seconds, so fast steps get enough samples to rise
    above a busy machine's noise and slow ones stay cheap."""
    with torch.random.fork_rng(devices=[]):
        setups = [_Setup(model, x, y, c) for c in configs]
        first = sum(s.step() for s in setups)  # warm-up, and the cost of one round
        rounds = int(min(max_rounds, max(3, budget_s / max(2 * first, 1e-9))))
        return _median_ms(setups, rounds, warmup=0, repeats=2)


def _median_ms(setups: list[_Setup], rounds: int, *, warmup: int, repeats: int) -> dict[str, float]:
    by_label = {s.label: s for s in setups}
    for setup in setups:
        for _ in range(warmup):
            setup.step()
    times: dict[str, list[float]] = {label: [] for label in by_label}
    order = list(by_label)
    rng = random.Random(0)
    for _ in range(rounds):
        rng.shuffle(order)
        for name in order:
            times[name].append(min(by_label[name].step() for _ in range(repeats)))
    return {name: 1000 * statistics.median(t) for name, t in times.items()}
