"""Cost of one site: parameters, MACs and pooling operations at a given input shape.

Convention (as everywhere in poolstride): MACs for convolutions and linear layers
(multiply-accumulates; FLOPs = 2 x MACs); pooling counted separately as one operation per
window element per output. Both are counted by intercepting the aten operators that actually
run (a ``TorchDispatchMode``), so composite modules (blur = depthwise conv, Lp = power + average
pooling) are counted by what they do, not by what they claim.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from poolstride.surgery.trace import zeros_like_model

aten = torch.ops.aten

_CONV_OPS = {aten.convolution.default}
_MM_OPS = {aten.mm.default, aten.addmm.default, aten.bmm.default}


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


class _Counter(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.macs = 0
        self.pool_ops = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if func in _CONV_OPS:
            # weight is (C_out, C_in/groups, *k) -- or (C_in, C_out/groups, *k) when
            # transposed -- so each output (input, if transposed) element costs
            # weight.shape[1] x kernel elements multiply-accumulates.
            weight, transposed = args[1], args[6]
            per_element = weight.shape[1] * math.prod(weight.shape[2:])
            self.macs += (args[0] if transposed else out).numel() * per_element
        elif func in _MM_OPS:
            a, b = (args[1], args[2]) if func is aten.addmm.default else (args[0], args[1])
            self.macs += a.numel() * b.shape[-1]
        else:
            name = func.__name__  # e.g. "max_pool2d_with_indices.default"
            if "pool" in name and "backward" not in name and "adaptive" not in name:
                kernel = args[1] if len(args) > 1 else kwargs.get("kernel_size")
                first = out[0] if isinstance(out, (tuple, list)) else out
                if isinstance(kernel, (list, tuple)) and isinstance(first, torch.Tensor):
                    self.pool_ops += first.numel() * math.prod(int(k) for k in kernel)
        return out


def module_cost(module: nn.Module, input_shape: tuple[int, ...]) -> Cost:
    """Run ``module`` once on zeros of ``input_shape`` (batch included) and count its cost."""
    params = sum(p.numel() for p in module.parameters())
    counter = _Counter()
    training = module.training
    module.eval()
    try:
        with torch.no_grad(), counter:
            module(zeros_like_model(module, input_shape))
    finally:
        module.train(training)
    batch = input_shape[0] if input_shape else 1
    return Cost(params, counter.macs // batch, counter.pool_ops // batch)
