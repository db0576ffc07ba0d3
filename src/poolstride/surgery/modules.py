"""The modules surgery inserts: ``SplitStride``, ``TrailingPad`` and ``FoldedSubsample``.

``SplitStride`` is how a strided convolution is rewritten: the same convolution (same weights,
kernel, padding, dilation, groups) at stride 1, plus a separate downsampling operator that does
the striding -- Zhang's anti-aliasing recipe ("conv, then blur-pool") applied to any model
without forking its source. It remembers the original stride, so the rewrite can be undone
exactly, and it accepts the original convolution's ``state_dict`` keys (``weight``, ``bias``),
so pretrained weights of the unswapped model load into the swapped one.

``TrailingPad`` fixes an off-by-one: when a replacement operator rounds an odd size the other
way than the original (``floor`` vs ``ceil``), the input is extended (or cropped) at the end of
that dimension by replication, so every site keeps its output shape.

``FoldedSubsample`` stands at a ``subsample`` site whose decimation the convolution feeding it
now does itself, as a strided convolution (:mod:`~poolstride.surgery.fold`): the identity.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn


class SplitStride(nn.Module):
    """A strided convolution split into a stride-1 ``conv`` and a downsampling ``down``.

    ``forward(x) = down(conv(x))``, or ``conv(down(x))`` when ``down_first`` (used for
    pointwise convolutions, where downsampling first keeps the convolution's cost unchanged and
    is exactly equivalent for linear operators such as average and blur pooling).
    Shape: ``(N, C_in, *L) -> (N, C_out, *out)`` with ``out`` that of the original strided conv.
    """

    def __init__(
        self, conv: nn.Module, down: nn.Module, *, stride: tuple[int, ...], down_first: bool
    ) -> None:
        super().__init__()
        self.conv = conv
        self.down = down
        self.stride = tuple(stride)  # the original convolution's stride
        self.down_first = bool(down_first)

    @property
    def kind(self) -> str:
        return getattr(self.down, "variant", getattr(self.down, "kind", type(self.down).__name__))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.down_first:
            return self.conv(self.down(x))
        return self.down(self.conv(x))

    def original(self) -> nn.Module:
        """A copy of the original strided convolution (current weights, original stride)."""
        conv = copy.deepcopy(self.conv)
        conv.stride = self.stride
        return conv

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # Accept the unswapped model's keys: "<site>.weight" -> "<site>.conv.weight".
        for name in ("weight", "bias"):
            old, new = prefix + name, prefix + "conv." + name
            if old in state_dict and new not in state_dict:
                state_dict[new] = state_dict.pop(old)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def extra_repr(self) -> str:
        order = "down, conv" if self.down_first else "conv, down"
        return f"stride={self.stride} -> 1, order=({order})"


#: Attribute (in ``__dict__``, outside the state dict) of a convolution that carries a folded
#: ``subsample`` site's stride: its own stride before the fold.
FOLDED_ATTR = "_poolstride_folded_stride"


class FoldedSubsample(nn.Module):
    """The identity at a ``subsample`` site folded into the convolution at ``conv_path``
    (which now has the site's stride). Keeps the ``Subsample`` it stands for (outside the
    module tree) so the fold can be undone: ``(N, C, *L) -> (N, C, *L)``."""

    kind = "subsample"

    def __init__(self, conv_path: str, subsample: nn.Module) -> None:
        super().__init__()
        self.conv_path = conv_path
        self.__dict__["_subsample"] = subsample
        self.stride = tuple(subsample.stride)  # done by the conv

    def subsample(self) -> nn.Module:
        """The ``Subsample`` this fold replaced."""
        return self.__dict__["_subsample"]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def extra_repr(self) -> str:
        return f"stride={self.stride} done by {self.conv_path!r}"


class TrailingPad(nn.Module):
    """Extend (``amount > 0``, replicating the last sample) or crop (``< 0``) the end of each
    spatial dimension: ``(N, C, *L) -> (N, C, *(L + amount))``."""

    def __init__(self, amounts: tuple[int, ...]) -> None:
        super().__init__()
        self.amounts = tuple(int(a) for a in amounts)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        crops = tuple(slice(None, a) if a < 0 else slice(None) for a in self.amounts)
        x = x[(..., *crops)]
        pads = []
        for a in reversed(self.amounts):  # F.pad lists the last dimension first
            pads += [0, max(a, 0)]
        if any(pads):
            x = F.pad(x, pads, mode="replicate")
        return x

    def extra_repr(self) -> str:
        return f"amounts={self.amounts}"
