"""Find the downsampling sites of any ``nn.Module``.

A *site* is a module that reduces spatial resolution by a stride:

- ``role="pool"``: a downsampling operator replaced whole -- ``nn.MaxPool*``, ``nn.AvgPool*``,
  ``nn.LPPool*`` with stride > 1, and any ``poolstride.layers`` module (``max``, ``conv``,
  ``blur-max``...) with stride > 1;
- ``role="conv"``: a convolution with stride > 1 (stems, residual shortcuts, depthwise
  convolutions): its learned weights stay, only the striding moves to a separate operator.

A site already rewritten by :func:`~poolstride.surgery.swap_downsampling` is still the same
site: it remembers its ``original`` module, so swaps never stack (``swap(swap(m, a), b)`` has
the structure of ``swap(m, b)``) and ``"original"`` restores it. Sites are listed in forward
order (a traced forward pass); the children of a site are never sites themselves.
Transposed convolutions (upsampling) and adaptive pooling (global heads) are not sites.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from torch import nn

from poolstride.geometry.output_size import as_tuple
from poolstride.layers.base import Downsample
from poolstride.shape_trace import Trace
from poolstride.surgery.modules import FOLDED_ATTR, SplitStride

# Attribute set (outside nn.Module's registry, so it is neither a child nor in state_dict) on
# a module that replaced a pooling site: the module that was there before any swap.
ORIGINAL_ATTR = "_poolstride_original"

_POOLS = (
    nn.modules.pooling._MaxPoolNd,
    nn.modules.pooling._AvgPoolNd,
    nn.modules.pooling._LPPoolNd,
)
_NN_DIM = {
    nn.MaxPool1d: 1,
    nn.MaxPool2d: 2,
    nn.MaxPool3d: 3,
    nn.AvgPool1d: 1,
    nn.AvgPool2d: 2,
    nn.AvgPool3d: 3,
    nn.LPPool1d: 1,
    nn.LPPool2d: 2,
    nn.LPPool3d: 3,
}


def module_dim(module: nn.Module) -> int | None:
    """Number of spatial dimensions a conv / pool / poolstride module works on."""
    if isinstance(getattr(module, "dim", None), int):
        return module.dim
    if isinstance(module, nn.modules.conv._ConvNd):
        return len(module.kernel_size)
    for cls, dim in _NN_DIM.items():
        if isinstance(module, cls):
            return dim
    return None


def module_stride(module: nn.Module) -> tuple[int, ...] | None:
    dim = module_dim(module)
    if dim is None:
        return None
    if isinstance(module, _POOLS) and module.stride is None:  # PyTorch: stride defaults to kernel
        return as_tuple(module.kernel_size, dim)
    stride = getattr(module, "stride", None)
    return None if stride is None else as_tuple(stride, dim)


def operator_kind(module: nn.Module) -> str:
    """The kind string of a site's operator: ``max``, ``avg``, ``lp``, ``conv``, ``dwconv``..."""
    if isinstance(module, nn.modules.pooling._MaxPoolNd):
        return "max"
    if isinstance(module, nn.modules.pooling._AvgPoolNd):
        return "avg"
    if isinstance(module, nn.modules.pooling._LPPoolNd):
        return "lp"
    if isinstance(module, nn.modules.conv._ConvNd):
        depthwise = module.groups > 1 and module.groups == module.in_channels
        return "dwconv" if depthwise else "conv"
    return str(getattr(module, "variant", getattr(module, "kind", type(module).__name__)))


def original_of(module: nn.Module) -> tuple[nn.Module, str] | None:
    """``(original module, role)`` if ``module`` is a downsampling site, else None."""
    if ORIGINAL_ATTR in module.__dict__:
        original = module.__dict__[ORIGINAL_ATTR]
        found = original_of(original)
        return (original, found[1]) if found else None
    if isinstance(module, SplitStride):
        return module.original(), "conv"
    if FOLDED_ATTR in module.__dict__:  # its stride is a folded subsample site's
        return None
    if isinstance(module, nn.modules.conv._ConvNd):
        if module.transposed or max(module_stride(module)) <= 1:
            return None
        return module, "conv"
    is_ours = isinstance(module, Downsample)
    if isinstance(module, _POOLS) or is_ours:
        if is_ours and module.kind.startswith("adaptive"):
            return None
        stride = module_stride(module)
        if stride is None or max(stride) <= 1:
            return None
        return module, "pool"
    return None


@dataclass
class Site:
    """One downsampling site of a model (see the module docstring for ``role``)."""

    path: str
    module: nn.Module  # what is at ``path`` now
    original: nn.Module  # what was at ``path`` before any poolstride swap
    role: str  # "pool" | "conv"
    dim: int
    stride: tuple[int, ...]
    calls: list[tuple] = field(default_factory=list)  # traced (input shape, output shape)

    @property
    def swapped(self) -> bool:
        return self.module is not self.original

    @property
    def kind(self) -> str:
        """The original operator's kind (``max``, ``avg``, ``conv``, ``dwconv``...)."""
        return operator_kind(self.original)

    @property
    def executed(self) -> bool:
        return bool(self.calls)

    @property
    def input_shape(self):
        return self.calls[0][0] if self.calls else None

    @property
    def output_shape(self):
        return self.calls[0][1] if self.calls else None

    @property
    def in_channels(self) -> int | None:
        if self.role == "conv":
            return self.original.in_channels
        shape = self.input_shape
        return shape[1] if shape and isinstance(shape[1], int) else None


def find_sites(model: nn.Module, trace: Trace | None = None) -> list[Site]:
    """Every downsampling site of ``model``; in forward order if a ``trace`` is given.

    Sites never executed by the traced forward pass (e.g. auxiliary heads in eval mode) come
    last, with empty ``calls``.
    """
    sites: list[Site] = []
    inside: str | None = None
    for path, module in model.named_modules():
        if not path or (inside is not None and path.startswith(inside)):
            continue
        found = original_of(module)
        if found is None:
            continue
        original, role = found
        dim = module_dim(original)
        calls = list(trace.calls.get(path, [])) if trace is not None else []
        sites.append(Site(path, module, original, role, dim, module_stride(original), calls))
        inside = path + "."
    if trace is not None:
        rank = {path: i for i, path in enumerate(trace.order)}
        sites.sort(key=lambda s: rank.get(s.path, len(rank)))
    return sites


def mark_original(replacement: nn.Module, original: nn.Module) -> nn.Module:
    """Remember on ``replacement`` what the site held before any swap (a private copy)."""
    replacement.__dict__[ORIGINAL_ATTR] = copy.deepcopy(original)
    return replacement
