"""``describe(module)``: a one-line summary of a downsampling site's operator, for change tables."""

from __future__ import annotations

from torch import nn

from poolstride.layers import Downsample
from poolstride.surgery.modules import FoldedSubsample, SplitStride, TrailingPad

__all__ = ["describe"]


def describe(module: nn.Module) -> str:
    """Short one-line description: ``Conv2d 64->128 k3 s2 p1``, ``MaxPool2d k3 s2 p1``."""

    def t(value) -> str:
        value = tuple(value) if isinstance(value, (tuple, list)) else (value,)
        return str(value[0]) if len(set(value)) == 1 else "x".join(map(str, value))

    if isinstance(module, FoldedSubsample):
        return f"subsample s{t(module.stride)} by {module.conv_path}"
    if isinstance(module, SplitStride):
        conv, down = describe(module.conv), describe(module.down)
        return f"{down} -> {conv}" if module.down_first else f"{conv} -> {down}"
    if (
        isinstance(module, nn.Sequential)
        and len(module) == 2
        and isinstance(module[0], TrailingPad)
    ):
        return f"{describe(module[0])} -> {describe(module[1])}"
    if isinstance(module, TrailingPad):
        amounts = module.amounts
        if min(amounts) >= 0:
            return f"pad+{t(amounts)}"
        if max(amounts) <= 0:
            return f"crop{t(tuple(-a for a in amounts))}"
        return "pad/crop " + "x".join(f"{a:+d}" for a in amounts)
    if isinstance(module, nn.modules.conv._ConvNd):
        text = (
            f"{type(module).__name__} {module.in_channels}->{module.out_channels} "
            f"k{t(module.kernel_size)} s{t(module.stride)}"
        )
        padding = module.padding if isinstance(module.padding, str) else t(module.padding)
        text += f" p{padding}" if padding != "0" else ""
        text += f" d{t(module.dilation)}" if max(module.dilation) > 1 else ""
        if module.groups > 1:
            text += " dw" if module.groups == module.in_channels else f" g{module.groups}"
        return text
    if isinstance(module, nn.modules.pooling._LPPoolNd):
        return f"{type(module).__name__} p{module.norm_type:g} k{t(module.kernel_size)} s{t(module.stride)}"
    if isinstance(module, (nn.modules.pooling._MaxPoolNd, nn.modules.pooling._AvgPoolNd)):
        stride = module.stride if module.stride is not None else module.kernel_size
        text = f"{type(module).__name__} k{t(module.kernel_size)} s{t(stride)}"
        text += f" p{t(module.padding)}" if t(module.padding) != "0" else ""
        text += " ceil" if module.ceil_mode else ""
        return text
    if isinstance(module, Downsample):
        if module.variant.startswith("blur"):  # composites, named by their variant
            text = f"{module.variant} s{t(module.stride)}"
        else:  # the others by their window
            text = f"{module.variant.split(':')[0]} k{t(module.kernel_size)} s{t(module.stride)}"
            text += f" p{t(module.padding)}" if t(module.padding) != "0" else ""
            text += " ceil" if module.ceil_mode else ""
        if module.in_channels is not None and module.out_channels != module.in_channels:
            text += f" {module.in_channels}->{module.out_channels}"
        return text
    return type(module).__name__
