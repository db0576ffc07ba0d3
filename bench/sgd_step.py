"""The training-step timer the model benches share (run beside them: `python bench/X.py`)."""

from __future__ import annotations

import statistics
import time

import torch


def step_time(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int) -> float:
    """Median seconds of ``steps`` SGD steps (forward, cross-entropy, backward, update) on one
    batch ``x`` ``(N, C, H, W)`` with labels ``y`` ``(N,)``."""
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
