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

from poolstride.errors import PoolstrideError
from poolstride.layers.base import Downsample
from poolstride.layers.pooling import resolve_pool_geometry

_CONV = {1: nn.Conv1d, 2: nn.Conv2d}


def _require_channels(kind: str, in_channels: Any) -> None:
    if in_channels is None:
        raise PoolstrideError(f"{kind}: in_channels is required (the kind has learnable weights)")


class StridedConv(Downsample):
    """Strided convolution ``in_channels -> out_channels`` (``conv``). Learnable."""

    kind = "conv"

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
        _require_channels(self.kind, in_channels)
        kernel, stride, padding, dilation = resolve_pool_geometry(
            self.kind, dim, factor, kernel_size, stride, padding, dilation, check_pad=False
        )
        super().__init__(
            in_channels,
            out_channels,
            dim=dim,
            kernel_size=kernel,
            stride=stride,
            padding=padding,
            dilation=dilation,
            project=False,
        )
        self.conv = _CONV[self.dim](
            in_channels,
            self.out_channels,
            kernel,
            stride=stride,
            padding=padding,
            dilation=dilation,
            bias=bool(bias),
        )

    def downsample(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class DepthwiseStridedConv(Downsample):
    """Depthwise strided convolution (``dwconv``): one ``kernel_size`` filter per channel.

    ``out_channels != in_channels`` adds a 1x1 convolution after it.
    """

    kind = "dwconv"

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
        _require_channels(self.kind, in_channels)
        kernel, stride, padding, dilation = resolve_pool_geometry(
            self.kind, dim, factor, kernel_size, stride, padding, dilation, check_pad=False
        )
        super().__init__(
            in_channels,
            out_channels,
            dim=dim,
            kernel_size=kernel,
            stride=stride,
            padding=padding,
            dilation=dilation,
        )
        self.conv = _CONV[self.dim](
            in_channels,
            in_channels,
            kernel,
            stride=stride,
            padding=padding,
            dilation=dilation,
            groups=in_channels,
            bias=bool(bias),
        )
        self._move_proj_last()

    def downsample(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)
