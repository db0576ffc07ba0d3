"""Fixed max and average pooling (``max``, ``avg``), 1D and 2D, with normalised geometry.

Defaults: ``kernel_size = stride = factor`` (non-overlapping windows). Giving a larger kernel
(``max:k3``) keeps ``stride = factor`` and pads by ``(effective_kernel - 1) // 2`` so sizes that
are multiples of the factor still divide exactly (3x3 window, stride 2, padding 1 halves 32 ->
16); pass ``padding`` (``max:k3:pad0``) to override. Output size per spatial dimension::

    out = floor((L + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1

(rounded up instead with ``ceil_mode=True``, except that a window starting in the right padding
is dropped). Padding may be at most half the kernel size (PyTorch's limit, ``padding <= k // 2``;
it also caps the default padding of dilated windows). Max pooling pads with
``-inf``; average pooling pads with zeros and, with ``count_include_pad=True`` (the default, as
PyTorch), divides by the full window size even where it overlaps the padding. Results equal
``torch.nn.functional.max_pool{1,2}d`` / ``avg_pool{1,2}d`` exactly: both go through
:mod:`poolstride.layers.functional`.
"""

from __future__ import annotations

from typing import Any

import torch

from poolstride.layers import functional as PF
from poolstride.layers.base import Downsample, check_padding, halving_padding, to_tuple


class WindowDownsample(Downsample):
    """A :class:`Downsample` with the pooling defaults (module docstring) applied.

    ``kernel_size``/``stride`` None mean ``factor``; ``padding`` None means the halving padding.
    Subclasses (``max``, ``avg``, ``lp``, ``soft``, ``mixed``, ``gated``, ``conv``, ``dwconv``)
    name their options (``option_names``) and get them here by keyword; an option a kind
    does not take keeps the default here. ``check_pad=False`` lifts PyTorch's
    half-kernel padding limit (convolutions have none).
    """

    def __init__(
        self,
        in_channels: int | None,
        out_channels: int | None,
        *,
        factor: int,
        dim: int,
        kernel_size: Any = None,
        stride: Any = None,
        padding: Any = None,
        dilation: Any = 1,
        ceil_mode: bool = False,
        project: bool = True,
        check_pad: bool = True,
    ) -> None:
        owner = self.kind
        kernel = to_tuple(
            factor if kernel_size is None else kernel_size, dim, "kernel_size", owner, 1
        )
        stride = to_tuple(factor if stride is None else stride, dim, "stride", owner, 1)
        dilation = to_tuple(dilation, dim, "dilation", owner, 1)
        if padding is None:
            padding = halving_padding(kernel, stride, dilation, pool_limit=check_pad)
        super().__init__(
            in_channels,
            out_channels,
            dim=dim,
            kernel_size=kernel,
            stride=stride,
            padding=padding,
            dilation=dilation,
            ceil_mode=ceil_mode,
            project=project,
        )
        if check_pad:
            check_padding(owner, self.kernel_size, self.padding, self.dilation)


class MaxPool(WindowDownsample):
    """Max pooling: each output is the maximum over a ``kernel_size`` window (``max``).

    Shape: ``(N, C, *in)`` -> ``(N, out_channels, *out)`` with ``out`` from the rule above.
    No parameters (unless ``out_channels != in_channels``: then a 1x1 conv follows).
    """

    kind = "max"
    option_names = ("kernel_size", "stride", "padding", "dilation", "ceil_mode")

    def downsample(self, x: torch.Tensor) -> torch.Tensor:
        return PF.max_pool(
            x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode
        )


class AvgPool(WindowDownsample):
    """Average pooling: each output is the mean over a ``kernel_size`` window (``avg``).

    ``count_include_pad`` decides whether zero padding counts in the divisor (PyTorch's default
    ``True``; token ``nocip`` sets it False). No dilation (PyTorch has none for average pooling).
    """

    kind = "avg"
    option_names = ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad")

    def __init__(self, *args: Any, count_include_pad: bool, **window: Any) -> None:
        super().__init__(*args, **window)
        self.count_include_pad = bool(count_include_pad)

    def downsample(self, x: torch.Tensor) -> torch.Tensor:
        return PF.avg_pool(
            x, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad
        )

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, count_include_pad={self.count_include_pad}"
