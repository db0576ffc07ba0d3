"""Gradient flow: the gradient norm reaching each layer on one batch.

:func:`gradient_norms` runs one forward/backward pass in training mode and reports, per
module that owns parameters directly, ``sqrt(sum over its parameters of ||grad||²)``. It is
a probe, not a training step: existing ``.grad`` tensors and buffers (BatchNorm running
statistics) are restored afterwards, so calling it at initialisation does not change the run.
Comparing the first and last layers shows whether a downsampling choice starves early layers
of gradient (e.g. max pooling routes gradient to one input per window).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F


def gradient_norms(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
) -> dict[str, float]:
    """``{module name: L2 norm of its parameters' gradients}`` for one batch, in model order.

    ``loss_fn(logits, y)`` defaults to mean cross-entropy.
    """
    loss_fn = loss_fn or F.cross_entropy
    owners = [
        (name, m)
        for name, m in model.named_modules()
        if any(p.requires_grad for p in m.parameters(recurse=False))
    ]
    params = [p for _, m in owners for p in m.parameters(recurse=False)]
    saved_grads = [p.grad for p in params]
    buffers = list(model.buffers())
    saved_buffers = [b.clone() for b in buffers]
    was_training = model.training
    model.train()
    try:
        for p in params:
            p.grad = None
        with torch.enable_grad():
            loss_fn(model(x), y).backward()
        result = {}
        for name, module in owners:
            sq = sum(
                float(p.grad.double().pow(2).sum())
                for p in module.parameters(recurse=False)
                if p.grad is not None
            )
            result[name or type(module).__name__] = sq**0.5
    finally:
        for p, g in zip(params, saved_grads):
            p.grad = g
        with torch.no_grad():
            for b, saved in zip(buffers, saved_buffers):
                b.copy_(saved)
        model.train(was_training)
    return result
