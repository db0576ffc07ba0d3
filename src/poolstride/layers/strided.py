"""Learnable strided convolutions: ``conv`` (full) and ``dwconv`` (depthwise).

``conv`` defaults to ``kernel_size = stride = factor``: non-overlapping windows, like a patchify
stem. ``conv:k3`` gives the common 3x3, stride-2, padding-1 convolution; padding defaults to
``(effective_kernel - 1) // 2`` when windows overlap (so multiples of the factor divide
exactly), else 0. Output size per dimension is the convolution rule (floor)::

    out = floor((L + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1

``out_channels`` defaults to ``in_channels``. ``dwconv`` convolves each channel separately
(``groups = in_channels``); if ``out_channels`` differs a 1x1 convolution follows (a depthwise-
separable strided convolution). Weights use PyTorch's default initialisation; the inner
``nn.Conv{1,2}d`` is the attribute ``conv`` so profilers count its MACs as usual.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from poolstride.layers.base import require_channels
from poolstride.layers.dims import CONV
from poolstride.layers.pooling import WindowDownsample


class _StridedConvBase(WindowDownsample):
    def _conv(self, out_channels: int, groups: int, bias: Any) -> nn.Module:
        """The strided ``nn.Conv{1,2}d`` with this module's (normalised) geometry."""
        return CONV[self.dim](
            self.in_channels,
            out_channels,
            self.kernel_size,
            stride=self.stride,
            padding=self.padding,
            dilation=self.dilation,
            groups=groups,
            bias=bool(bias),
        )

    def downsample(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class StridedConv(_StridedConvBase):
    """Strided convolution ``in_channels -> out_channels`` (``conv``). Learnable."""

    kind = "conv"
    learnable = True

    def __init__(
        self,
        in_channels: int,
        out_channels: int | None = None,
        *,
        factor: int = 2,
        dim: int = 2,
        kernel_size: Any = None,
        stride: Any = None,
        padding: Any = None,
        dilation: Any = 1,
        bias: bool = True,
    ) -> None:
        require_channels(self.kind, in_channels, "a strided convolution")
        super().__init__(
            in_channels,
            out_channels,
            factor=factor,
            dim=dim,
            kernel_size=kernel_size,
            stride=stride,
            padding=padding,
            dilation=dilation,
            project=False,
            check_pad=False,
        )
        self.conv = self._conv(self.out_channels, groups=1, bias=bias)


class DepthwiseStridedConv(_StridedConvBase):
    """Depthwise strided convolution (``dwconv``): one ``kernel_size`` filter per channel.

    ``out_channels != in_channels`` adds a 1x1 convolution after it.
    """

    kind = "dwconv"
    learnable = True

    def __init__(
        self,
        in_channels: int,
        out_channels: int | None = None,
        *,
        factor: int = 2,
        dim: int = 2,
        kernel_size: Any = None,
        stride: Any = None,
        padding: Any = None,
        dilation: Any = 1,
        bias: bool = True,
    ) -> None:
        require_channels(self.kind, in_channels, "a strided convolution")
        super().__init__(
            in_channels,
            out_channels,
            factor=factor,
            dim=dim,
            kernel_size=kernel_size,
            stride=stride,
            padding=padding,
            dilation=dilation,
            check_pad=False,
        )
        self.conv = self._conv(in_channels, groups=in_channels, bias=bias)
        self._move_proj_last()
