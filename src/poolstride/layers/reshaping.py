"""Downsampling by rearranging or dropping samples: ``space-to-depth``, ``subsample``, ``none``.

- ``subsample`` keeps every ``factor``-th sample (``x[..., ::f, ::f]``): plain decimation with
  no low-pass filter, the aliasing baseline. Geometry: kernel 1, stride ``factor``, so
  ``out = floor((L - 1) / f) + 1`` (= ceil(L / f)), exactly what slicing gives.
- ``space-to-depth`` moves each ``factor``-sized block into channels (pixel-unshuffle; a
  1D version is written here) then mixes with a 1x1 convolution ``C * factor**dim ->
  out_channels``. Together this is a ``factor``-strided ``factor``-sized convolution with a
  different parameterisation. Sizes that are not multiples of ``factor`` lose their trailing
  remainder, matching the floor rule (``out = floor(L / f)``).
- ``none`` returns its input (factor 1): the "no downsampling" baseline. With ``out_channels``
  different from ``in_channels`` a 1x1 convolution changes the channel count.
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F

from poolstride.errors import PoolstrideError
from poolstride.layers.base import Downsample, check_factor, conv1x1


def space_to_depth(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Pixel-unshuffle a batched 1D or 2D tensor, cropping any trailing remainder.

    ``(N, C, L) -> (N, C*f, L//f)`` with output channel ``c*f + i`` holding ``x[:, c, j*f + i]``;
    ``(N, C, H, W) -> (N, C*f*f, H//f, W//f)``, channel order as ``torch.nn.functional.
    pixel_unshuffle`` (``c*f*f + i*f + j``).
    """
    if x.ndim == 3:
        n, c, length = x.shape
        out = length // factor
        x = x[:, :, : out * factor]
        return x.reshape(n, c, out, factor).transpose(2, 3).reshape(n, c * factor, out)
    if x.ndim == 4:
        h, w = (s // factor * factor for s in x.shape[2:])
        if x.shape[0] == 0:  # pixel_unshuffle returns the wrong shape for an empty batch
            return x.new_empty((0, x.shape[1] * factor * factor, h // factor, w // factor))
        return F.pixel_unshuffle(x[:, :, :h, :w], factor)
    raise PoolstrideError(
        f"space_to_depth expects (N, C, L) or (N, C, H, W), got shape {tuple(x.shape)}"
    )


class SpaceToDepth(Downsample):
    """Space-to-depth + 1x1 convolution (``space-to-depth``). Learnable (the 1x1 conv)."""

    kind = "space-to-depth"
    learnable = True
    needs_channels = "a 1x1 conv"
    option_names = ("bias",)

    def __init__(self, in_channels, out_channels, *, factor, dim, bias) -> None:
        super().__init__(
            in_channels, out_channels, dim=dim, kernel_size=factor, stride=factor, project=False
        )
        self.proj = conv1x1(self.dim, in_channels * factor**self.dim, self.out_channels, bias)

    def downsample(self, x: torch.Tensor) -> torch.Tensor:
        return space_to_depth(x, self.stride[0])


class Subsample(Downsample):
    """Keep every ``factor``-th sample along each spatial dimension (``subsample``)."""

    kind = "subsample"
    #: Whether the step is ``factor`` (else 1: ``none``).
    decimates: ClassVar[bool] = True

    def __init__(
        self,
        in_channels: int | None = None,
        out_channels: int | None = None,
        *,
        factor: int = 2,
        dim: int = 2,
    ) -> None:
        factor = check_factor(factor, self.kind)
        step = factor if self.decimates else 1
        super().__init__(in_channels, out_channels, dim=dim, kernel_size=1, stride=step)

    def downsample(self, x: torch.Tensor) -> torch.Tensor:
        f = self.stride[0]
        return x[:, :, ::f] if self.dim == 1 else x[:, :, ::f, ::f]


class NoDownsample(Subsample):
    """Identity (``none``): step 1, kernel 1; ``factor`` is checked but ignored by design
    (a uniform signature)."""

    kind = "none"
    decimates = False

    def downsample(self, x: torch.Tensor) -> torch.Tensor:
        return x
