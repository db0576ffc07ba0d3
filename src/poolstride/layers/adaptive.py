"""Adaptive pooling (``adaptive-max``, ``adaptive-avg``): a fixed output size for any input.

With ``output_size`` (token ``oN``, e.g. ``adaptive-avg:o4``) every input maps to that size:
output ``i`` pools input indices ``floor(i * L / out)`` to ``ceil((i + 1) * L / out) - 1``
(PyTorch's rule; windows may differ in size by one and overlap). Without it, each dimension is
divided by ``factor`` (``out = max(1, L // factor)``), so the kind can stand in for a fixed pool.

Geometry attributes: with the factor default they are the nominal ``kernel = stride = factor``,
padding 0 (exact when sizes are multiples of the factor); with a fixed ``output_size`` the
window depends on the input, so ``kernel_size``/``stride`` are the nominal values for an input
of ``factor * output_size`` — use :meth:`output_size` and ``target_size`` for exact answers.
Results equal ``torch.nn.functional.adaptive_{max,avg}_pool{1,2}d``.
"""

from __future__ import annotations

from typing import Any

import torch

from poolstride.layers.base import Downsample, to_tuple
from poolstride.layers.dims import ADAPTIVE_AVG_POOL_FN, ADAPTIVE_MAX_POOL_FN

# The adaptive pooling function by reduction, then by spatial dimension.
_ADAPTIVE = {"max": ADAPTIVE_MAX_POOL_FN, "avg": ADAPTIVE_AVG_POOL_FN}


class _AdaptivePool(Downsample):
    reduce = ""

    def __init__(self, in_channels, out_channels, *, factor, dim, output_size) -> None:
        super().__init__(in_channels, out_channels, dim=dim, kernel_size=factor, stride=factor)
        self.target_size = (
            None
            if output_size is None
            else to_tuple(output_size, self.dim, "output_size", self.kind, 1)
        )
        self.min_size = (1,) * self.dim if self.target_size is None else self.target_size

    def output_size(self, size: Any) -> tuple[int, ...]:
        size = self._checked_size(size)
        if self.target_size is not None:
            return self.target_size
        return tuple(max(1, s // f) for s, f in zip(size, self.stride))

    def downsample(self, x: torch.Tensor) -> torch.Tensor:
        size = self.target_size
        if size is None:
            size = tuple(max(1, s // f) for s, f in zip(x.shape[2:], self.stride))
        return _ADAPTIVE[self.reduce][self.dim](x, size)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, output_size={self.target_size}"


class AdaptiveMaxPool(_AdaptivePool):
    """Adaptive max pooling to ``output_size`` (or ``L // factor``). No parameters."""

    kind = "adaptive-max"
    reduce = "max"
    option_names = ("output_size",)


class AdaptiveAvgPool(_AdaptivePool):
    """Adaptive average pooling to ``output_size`` (or ``L // factor``). No parameters."""

    kind = "adaptive-avg"
    reduce = "avg"
    option_names = ("output_size",)
