"""Swap the downsampling of any PyTorch model, generically and by module path.

>>> from torchvision.models import resnet18
>>> from poolstride.surgery import swap_downsampling
>>> model, changes = swap_downsampling(resnet18(), "blur-max", input_shape=(3, 64, 64))
>>> print(changes.to_markdown())                                     # doctest: +SKIP

Modules: ``trace`` (shapes by forward hooks), ``sites`` (what a downsampling site is),
``modules`` (``SplitStride``, ``TrailingPad``), ``cost`` (params, MACs, pooling ops),
``changes`` (the change table), ``swap`` (the rewrite itself).
"""

from poolstride.surgery.changes import Change, Changes
from poolstride.surgery.cost import Cost, module_cost
from poolstride.surgery.modules import SplitStride, TrailingPad
from poolstride.surgery.sites import Site, find_sites
from poolstride.surgery.swap import (
    ORIGINAL,
    default_input_shape,
    describe,
    model_variant,
    parse_target,
    swap_downsampling,
)
from poolstride.surgery.trace import Trace, trace_shapes

__all__ = [
    "ORIGINAL",
    "Change",
    "Changes",
    "Cost",
    "Site",
    "SplitStride",
    "TrailingPad",
    "Trace",
    "default_input_shape",
    "describe",
    "find_sites",
    "model_variant",
    "module_cost",
    "parse_target",
    "swap_downsampling",
    "trace_shapes",
]
