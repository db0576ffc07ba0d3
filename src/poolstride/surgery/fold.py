"""A ``subsample`` site folded into the convolution that feeds it: the honest strided conv.

Keeping every ``f``-th output of a stride-1 convolution *is* the stride-``f`` convolution (same
weights, same outputs), which computes only the kept outputs: ``1/f`` of the MACs per
spatial dimension (1/4 in 2D at ``f = 2``). So when a swap to ``subsample`` leaves a plain
:class:`~poolstride.layers.reshaping.Subsample` at a site, and a convolution feeds that site
directly -- its previous siblings in the same ``nn.Sequential`` are a stride-1 convolution
followed only by element-wise activations, which commute with decimation -- the convolution is
given the stride and the site becomes a :class:`~poolstride.surgery.modules.FoldedSubsample`
(the identity, remembering the conv and what the site held before).

Not folded: a BatchNorm (or anything else) between the conv and the site (in training mode
batch statistics over all positions differ from those over the kept ones), a dropout (its
random mask), a string padding (``"same"`` is refused by strided convs), a stride that differs
per dimension, or a site fitted with a ``TrailingPad``. There the decimation stays.

:func:`unfold` undoes every fold of a model (convs back to stride 1, sites back to the
``Subsample``), so a swap always starts from the unfolded model and swaps never stack.
"""

from __future__ import annotations

import copy

from torch import nn

from poolstride.layers.reshaping import Subsample
from poolstride.shape_trace import Trace
from poolstride.surgery.cost import Cost, module_cost
from poolstride.surgery.modules import FOLDED_ATTR, FoldedSubsample
from poolstride.surgery.sites import ORIGINAL_ATTR, mark_original

__all__ = ["ELEMENTWISE", "feeding_conv", "fold_site", "folded_sites", "is_folded", "unfold"]

#: Modules that act on each value alone (so they commute with keeping every f-th sample).
ELEMENTWISE = (
    nn.Identity,
    nn.ReLU,
    nn.ReLU6,
    nn.LeakyReLU,
    nn.PReLU,
    nn.ELU,
    nn.SELU,
    nn.CELU,
    nn.GELU,
    nn.SiLU,
    nn.Mish,
    nn.Hardswish,
    nn.Hardsigmoid,
    nn.Hardtanh,
    nn.Sigmoid,
    nn.Tanh,
    nn.Softplus,
)


def is_folded(module: nn.Module) -> bool:
    """True for a convolution that carries a folded site's stride."""
    return FOLDED_ATTR in module.__dict__


def _parent_and_index(model: nn.Module, path: str) -> tuple[nn.Sequential, int] | None:
    parent_path, _, name = path.rpartition(".")
    parent = model.get_submodule(parent_path) if parent_path else model
    if not isinstance(parent, nn.Sequential):
        return None
    names = [child for child, _ in parent.named_children()]
    return (parent, names.index(name)) if name in names else None


def feeding_conv(model: nn.Module, path: str, trace: Trace) -> str | None:
    """Path of the stride-1 convolution that feeds the site at ``path`` directly, or None.

    ``trace`` (of the unswapped model) confirms the data flow: the conv runs exactly as often
    as the site and its output shape is the site's input shape.
    """
    found = _parent_and_index(model, path)
    if found is None:
        return None
    parent, index = found
    prefix = path.rpartition(".")[0]
    names = [child for child, _ in parent.named_children()]
    for i in range(index - 1, -1, -1):
        module = parent[i]
        if isinstance(module, ELEMENTWISE):
            continue
        if not isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d)) or is_folded(module):
            return None
        if isinstance(module.padding, str) and module.padding != "valid":
            return None
        if max(module.stride) != 1:
            return None
        conv_path = f"{prefix}.{names[i]}" if prefix else names[i]
        conv_calls = [c[1] for c in trace.calls.get(conv_path, [])]
        site_calls = [c[0] for c in trace.calls.get(path, [])]
        return conv_path if conv_calls and conv_calls == site_calls else None
    return None


def fold_site(model: nn.Module, path: str, trace: Trace) -> tuple[str, Cost] | None:
    """Fold the ``Subsample`` at ``path`` of ``model`` (in place) into its feeding conv.

    Returns ``(conv path, cost change of that conv per example)`` or None when the site is
    not a plain ``Subsample`` with one stride for every dimension, or no conv feeds it.
    """
    site = model.get_submodule(path)
    if type(site) is not Subsample or len(set(site.stride)) != 1:
        return None
    conv_path = feeding_conv(model, path, trace)
    if conv_path is None:
        return None
    conv = model.get_submodule(conv_path)
    if isinstance(conv.padding, str):  # "valid"
        conv.padding = (0,) * len(conv.stride)
    delta = stride_saving(conv, trace.calls[conv_path][0][0], site.stride)
    conv.__dict__[FOLDED_ATTR] = tuple(conv.stride)
    conv.stride = tuple(site.stride)
    folded = FoldedSubsample(conv_path, site)
    if ORIGINAL_ATTR in site.__dict__:  # the site remembers what it held before any swap
        mark_original(folded, site.__dict__[ORIGINAL_ATTR])
    parent, index = _parent_and_index(model, path)
    parent[index] = folded
    return conv_path, delta


def folded_sites(model: nn.Module) -> dict[str, FoldedSubsample]:
    """``{site path: FoldedSubsample}`` of every folded site of ``model``."""
    return {p: m for p, m in model.named_modules() if isinstance(m, FoldedSubsample)}


def stride_saving(conv: nn.Module, conv_input: tuple[int, ...], stride) -> Cost:
    """Cost of ``conv`` (a stride-1 conv) at ``stride`` minus at stride 1, per example."""
    strided = copy.deepcopy(conv)
    strided.stride = tuple(stride)
    return module_cost(strided, conv_input) - module_cost(conv, conv_input)


def unfold(model: nn.Module) -> nn.Module:
    """``model`` itself if nothing is folded, else a copy with every fold undone."""
    if not any(isinstance(m, FoldedSubsample) for m in model.modules()):
        return model
    model = copy.deepcopy(model)
    for path, module in list(model.named_modules()):
        if not isinstance(module, FoldedSubsample):
            continue
        conv = model.get_submodule(module.conv_path)
        conv.stride = conv.__dict__.pop(FOLDED_ATTR)
        parent, index = _parent_and_index(model, path)
        parent[index] = module.subsample()
    return model
