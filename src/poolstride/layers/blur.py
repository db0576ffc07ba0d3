"""Anti-aliased downsampling (Zhang 2019, "Making Convolutional Networks Shift-Invariant Again").

The idea: evaluate the operator densely (stride 1), low-pass it with a fixed binomial filter,
then subsample. ``filt_size`` n uses the binomial row ``C(n-1, i) / 2**(n-1)`` (n=3:
[1, 2, 1]/4; in 2D the outer product), padded by reflection, ``(n-1)//2`` on the left and
``n//2`` on the right.

- ``blur-avg``: blur + subsample (the blur replaces the box filter of average pooling).
- ``blur-max``: max pooling with a 2-window at stride 1, then blur + subsample.
- ``blur-conv``: convolution at stride 1 (``kernel_size`` default 3, same padding), then blur +
  subsample. The module is linear; in Zhang's networks the activation sits between the
  convolution and the blur (put it there yourself if you want that exact placement).

Output size per dimension: ``out = floor((L1 - 1) / factor) + 1`` where ``L1`` is the size after
the dense stage (``L`` for blur-avg, ``L - 1`` for blur-max, ``L`` for blur-conv with an odd
kernel). The geometry attributes describe the composite as one window (total extent, stride
``factor``, left padding) — what receptive-field arithmetic needs; for even ``filt_size`` the
right padding is one larger than ``padding``, so use :meth:`output_size` for exact sizes.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from poolstride.errors import PoolstrideError
from poolstride.geometry.output_size import ceil_div, conv_output_size
from poolstride.layers import functional as PF
from poolstride.layers.base import Downsample
from poolstride.layers.dims import CONV


def binomial_filter(filt_size: int, dim: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Normalised binomial low-pass filter of shape ``(filt_size,) * dim`` (sums to 1)."""
    return PF.binomial_weight(_check_filt("binomial_filter", filt_size), dim, dtype)


def _check_filt(owner: str, filt_size: Any) -> int:
    if isinstance(filt_size, bool) or not isinstance(filt_size, int) or filt_size < 1:
        raise PoolstrideError(f"{owner}: filt_size must be an integer >= 1, got {filt_size!r}")
    return filt_size


class BlurPool(nn.Module):
    """Blur with a binomial filter (reflect padding), then keep every ``stride``-th sample.

    Channel-agnostic: every channel gets the same fixed filter (a non-persistent buffer, so it
    never appears in ``state_dict``). ``(N, C, *L) -> (N, C, *out)``, ``out = floor((L-1)/s)+1``.
    """

    def __init__(self, filt_size: int = 3, stride: int = 2, dim: int = 2) -> None:
        super().__init__()
        self.filt_size = _check_filt("blur", filt_size)
        self.stride = stride
        self.dim = dim
        self.register_buffer(
            "filt",
            binomial_filter(filt_size, dim).reshape(1, 1, *(filt_size,) * dim),
            persistent=False,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return PF.blur_pool(x, self.filt_size, self.stride, self.filt)

    def extra_repr(self) -> str:
        return f"filt_size={self.filt_size}, stride={self.stride}, dim={self.dim}"


class _BlurDownsample(Downsample):
    """Shared wiring: a dense stage of extent ``dense_kernel`` / left pad ``dense_pad``, then blur.

    The fixed kinds (``blur-avg``, ``blur-max``) take only ``filt_size``; their dense stage is
    the class's ``dense_kernel`` (unpadded). ``blur-conv`` passes its convolution's.
    """

    dense_kernel: ClassVar[int] = 1

    def __init__(
        self,
        in_channels,
        out_channels,
        *,
        factor,
        dim,
        filt_size,
        dense_kernel=None,
        dense_pad=0,
        project=True,
    ) -> None:
        dense_kernel = self.dense_kernel if dense_kernel is None else dense_kernel
        filt_size = _check_filt(self.kind, filt_size)
        super().__init__(
            in_channels,
            out_channels,
            dim=dim,
            kernel_size=dense_kernel + filt_size - 1,
            stride=factor,
            padding=dense_pad + (filt_size - 1) // 2,
            project=project,
        )
        self.filt_size = filt_size
        self._dense_kernel = dense_kernel
        self._dense_pad = dense_pad
        self.blur = BlurPool(filt_size, factor, self.dim)
        self._move_proj_last()
        # Smallest input: the dense stage must leave more samples than the reflect padding.
        least_dense = filt_size // 2 + 1
        self.min_size = (
            max(dense_kernel - 2 * dense_pad, least_dense + dense_kernel - 1 - 2 * dense_pad),
        ) * self.dim

    def output_size(self, size: Any) -> tuple[int, ...]:
        size = self._checked_size(size)
        # The dense stage (stride 1), then the blur: reflect padding keeps its size, so the
        # subsampling keeps ceil(L1 / factor) samples.
        dense = (conv_output_size(s, self._dense_kernel, 1, self._dense_pad) for s in size)
        return tuple(ceil_div(n, self.stride[0]) for n in dense)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, filt_size={self.filt_size}"


class BlurAvgPool(_BlurDownsample):
    """Anti-aliased average pooling (``blur-avg``): binomial blur + subsample. No parameters."""

    kind = "blur-avg"
    option_names = ("filt_size",)
    dense_kernel = 1

    def downsample(self, x: torch.Tensor) -> torch.Tensor:
        return self.blur(x)


class BlurMaxPool(_BlurDownsample):
    """Anti-aliased max pooling (``blur-max``): max over 2-windows at stride 1, blur, subsample."""

    kind = "blur-max"
    option_names = ("filt_size",)
    dense_kernel = 2  # max over 2-windows at stride 1

    def downsample(self, x: torch.Tensor) -> torch.Tensor:
        return PF.max_blur_pool(x, self.blur.filt_size, self.blur.stride, self.blur.filt)


class BlurConv(_BlurDownsample):
    """Anti-aliased strided convolution (``blur-conv``): conv at stride 1, blur, subsample.

    ``kernel_size`` (default 3) is the convolution's, padded by ``(kernel_size - 1) // 2``.
    Learnable (the convolution, attribute ``conv``).
    """

    kind = "blur-conv"
    learnable = True
    needs_channels = "a convolution"
    option_names = ("kernel_size", "filt_size", "bias")
    option_defaults = {"kernel_size": ("int", 3)}

    def __init__(
        self, in_channels: int, *args: Any, kernel_size: int, bias: bool, **blur: Any
    ) -> None:
        if isinstance(kernel_size, bool) or not isinstance(kernel_size, int) or kernel_size < 1:
            raise PoolstrideError(
                f"{self.kind}: kernel_size must be an integer >= 1, got {kernel_size!r}"
            )
        pad = (kernel_size - 1) // 2
        super().__init__(
            in_channels, *args, dense_kernel=kernel_size, dense_pad=pad, project=False, **blur
        )
        self.conv = CONV[self.dim](
            in_channels, self.out_channels, kernel_size, padding=pad, bias=bool(bias)
        )

    def downsample(self, x: torch.Tensor) -> torch.Tensor:
        return self.blur(self.conv(x))
