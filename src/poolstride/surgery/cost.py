"""Cost of one site: parameters, MACs and pooling operations at a given input shape.

Counted by :class:`poolstride.analysis.ops.CostCounter`, the profiler's own per-call counting,
so a change table and a profile always agree. Convention (as everywhere in poolstride): MACs
for convolutions and linear layers (multiply-accumulates; FLOPs = 2 x MACs); pooling counted
separately as one operation per window element per output. Composite modules (blur =
depthwise conv, Lp = power + average pooling) are counted by the calls they make.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from poolstride.analysis.ops import CostCounter
from poolstride.shape_trace import zeros_like_model


@dataclass(frozen=True)
class Cost:
    """Parameters, MACs (conv/linear) and pooling ops (window elements x outputs) of a module."""

    params: int = 0
    macs: int = 0
    pool_ops: int = 0

    def __sub__(self, other: Cost) -> Cost:
        return Cost(
            self.params - other.params, self.macs - other.macs, self.pool_ops - other.pool_ops
        )


def module_cost(module: nn.Module, input_shape: tuple[int, ...]) -> Cost:
    """Run ``module`` once on zeros of ``input_shape`` (batch included); cost per example."""
    params = sum(p.numel() for p in module.parameters())
    training = module.training
    module.eval()
    try:
        with torch.no_grad(), CostCounter() as counter:
            module(zeros_like_model(module, input_shape))
    finally:
        module.train(training)
    batch = input_shape[0] if input_shape else 1
    return Cost(params, counter.macs // batch, counter.pool_ops // batch)
