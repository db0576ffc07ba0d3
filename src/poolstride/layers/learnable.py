"""Pooling between max and average: ``lp``, ``soft``, ``mixed``, ``gated``.

All share the pooling geometry defaults (``kernel_size = stride = factor``; a larger kernel
keeps the stride and pads by ``(kernel_size - 1) // 2``, except ``lp``, which never pads) and
the floor output-size rule.

- ``lp`` (power-average, Sermanet 2012): ``out = (sum_window x**p) ** (1/p)``, computed exactly
  as ``torch.nn.functional.lp_pool{1,2}d`` (no padding; ``p`` default 2). As there, non-integer
  ``p`` needs non-negative inputs (typically after a ReLU) or the result is NaN. ``p`` -> inf
  approaches max pooling of ``|x|``; ``p = 1`` is sum pooling.
- ``soft`` (SoftPool, Stergiou 2021): ``out = sum_window softmax(x) * x``; tends to max when one
  value dominates, to the mean when values are equal. Numerically stable (softmax per window);
  padded positions get zero weight. No parameters.
- ``mixed`` (Lee 2016): ``out = a * max + (1 - a) * avg`` with one learnable ``a = sigmoid(w)``
  per layer, initialised to 0.5.
- ``gated`` (Lee 2016): like ``mixed`` but ``a = sigmoid(conv(x))`` depends on the window: one
  ``kernel_size`` mask (plus bias) shared by all channels, initialised to zero (a = 0.5).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from poolstride.errors import PoolstrideError
from poolstride.layers import functional as PF
from poolstride.layers.dims import CONV_FN
from poolstride.layers.pooling import WindowDownsample


class LpPool(WindowDownsample):
    """Power-average pooling (``lp``): ``(sum over the window of x**p) ** (1/p)``. No padding."""

    kind = "lp"
    option_names = ("p", "kernel_size", "stride", "ceil_mode")

    def __init__(self, *args: Any, p: float, **window: Any) -> None:
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not (0 < p < math.inf):
            raise PoolstrideError(f"lp: p must be a finite number > 0, got {p!r}")
        super().__init__(*args, padding=0, **window)
        self.p = float(p)
        self._window = math.prod(self.kernel_size)

    def downsample(self, x: torch.Tensor) -> torch.Tensor:
        # Same operations, in the same order, as torch.nn.functional.lp_pool{1,2}d.
        out = PF.avg_pool(x.pow(self.p), self.kernel_size, self.stride, 0, self.ceil_mode)
        return (torch.sign(out) * F.relu(torch.abs(out))).mul(self._window).pow(1.0 / self.p)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, p={self.p}"


def _windows(x: torch.Tensor, kernel, stride, padding, fill: float) -> torch.Tensor:
    """All pooling windows as a view-friendly ``(N, C, *out, prod(kernel))`` tensor."""
    if any(padding):
        pads = [p for p in reversed(padding) for _ in range(2)]
        x = F.pad(x, pads, value=fill)
    for axis, (k, s) in enumerate(zip(kernel, stride)):
        x = x.unfold(2 + axis, k, s)
    return x.flatten(-len(kernel))


class SoftPool(WindowDownsample):
    """SoftPool (``soft``): softmax-weighted sum of each window. No parameters."""

    kind = "soft"
    option_names = ("kernel_size", "stride", "padding")

    def downsample(self, x: torch.Tensor) -> torch.Tensor:
        k, s, p = self.kernel_size, self.stride, self.padding
        values = _windows(x, k, s, p, 0.0)
        # Padded positions: logit -inf -> weight exactly 0 (and value 0, so no inf * 0).
        logits = _windows(x, k, s, p, -math.inf) if any(p) else values
        return (torch.softmax(logits, dim=-1) * values).sum(-1)


class MixedPool(WindowDownsample):
    """Mixed max-average pooling (``mixed``): ``a * max + (1 - a) * avg``, ``a`` learnable."""

    kind = "mixed"
    learnable = True
    option_names = ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad")

    def __init__(self, *args: Any, count_include_pad: bool, **window: Any) -> None:
        super().__init__(*args, **window)
        self.count_include_pad = bool(count_include_pad)
        # a = sigmoid(alpha_logit): stays in [0, 1] without clamping; 0 -> a = 0.5.
        self.alpha_logit = nn.Parameter(torch.zeros(()))

    @property
    def alpha(self) -> torch.Tensor:
        """The current mixing weight of max pooling, in [0, 1]."""
        return torch.sigmoid(self.alpha_logit)

    def downsample(self, x: torch.Tensor) -> torch.Tensor:
        k, s, p, c = self.kernel_size, self.stride, self.padding, self.ceil_mode
        a = torch.sigmoid(self.alpha_logit).to(x.dtype)
        hi = PF.max_pool(x, k, s, p, self.dilation, c)
        lo = PF.avg_pool(x, k, s, p, c, self.count_include_pad)
        return torch.lerp(lo, hi, a)


class GatedPool(WindowDownsample):
    """Gated max-average pooling (``gated``): ``g * max + (1 - g) * avg``, ``g = sigmoid(w * x + b)``.

    ``w`` is one ``kernel_size`` mask shared by all channels (``prod(kernel_size) + 1``
    parameters per layer), applied with the pooling's stride and zero padding.
    """

    kind = "gated"
    learnable = True
    option_names = ("kernel_size", "stride", "padding")

    def __init__(self, *args: Any, **window: Any) -> None:
        super().__init__(*args, **window)
        # Zero init: gate 0.5 everywhere (= mixed pooling at a = 0.5), gradients still flow.
        self.gate_weight = nn.Parameter(torch.zeros(1, 1, *self.kernel_size))
        self.gate_bias = nn.Parameter(torch.zeros(1))

    def gate(self, x: torch.Tensor) -> torch.Tensor:
        """The per-window gate ``(N, C, *out)`` in [0, 1]."""
        n, c = x.shape[:2]
        logits = CONV_FN[self.dim](
            x.reshape(n * c, 1, *x.shape[2:]),
            self.gate_weight.to(x.dtype),
            self.gate_bias.to(x.dtype),
            stride=self.stride,
            padding=self.padding,
        )
        return torch.sigmoid(logits).reshape(n, c, *logits.shape[2:])

    def downsample(self, x: torch.Tensor) -> torch.Tensor:
        k, s, p = self.kernel_size, self.stride, self.padding
        hi = PF.max_pool(x, k, s, p, self.dilation, False)
        lo = PF.avg_pool(x, k, s, p, False, True)
        return torch.lerp(lo, hi, self.gate(x))
