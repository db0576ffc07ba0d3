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

from typing import Any, ClassVar

import torch

from poolstride.layers.dims import CONV
from poolstride.layers.pooling import WindowDownsample


class _StridedConv(WindowDownsample):
    """The strided ``nn.Conv{1,2}d`` (attribute ``conv``) with this module's geometry:
    ``in -> out`` channels (groups 1), or ``depthwise``: ``in -> in`` (groups ``in``) and a
    1x1 projection ``in -> out`` if they differ."""

    learnable = True
    depthwise: ClassVar[bool] = False
    needs_channels = "a strided convolution"
    option_names = ("kernel_size", "stride", "padding", "dilation", "bias")

    def __init__(self, in_channels: int, *args: Any, bias: bool, **window: Any) -> None:
        super().__init__(in_channels, *args, project=self.depthwise, check_pad=False, **window)
        groups = in_channels if self.depthwise else 1
        self.conv = CONV[self.dim](
            in_channels,
            in_channels if self.depthwise else self.out_channels,
            self.kernel_size,
            stride=self.stride,
            padding=self.padding,
            dilation=self.dilation,
            groups=groups,
            bias=bool(bias),
        )
        self._move_proj_last()

    def downsample(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class StridedConv(_StridedConv):
    """Strided convolution ``in_channels -> out_channels`` (``conv``). Learnable."""

    kind = "conv"


class DepthwiseStridedConv(_StridedConv):
    """Depthwise strided convolution (``dwconv``): one ``kernel_size`` filter per channel.

    ``out_channels != in_channels`` adds a 1x1 convolution after it.
    """

    kind = "dwconv"
    depthwise = True
