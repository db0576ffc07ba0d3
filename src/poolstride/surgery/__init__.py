"""Swap the downsampling of any PyTorch model, generically and by module path.

>>> from torchvision.models import resnet18
>>> from poolstride.surgery import swap_downsampling
>>> model, changes = swap_downsampling(resnet18(), "blur-max", input_shape=(3, 64, 64))
>>> print(changes.to_markdown())                                     # doctest: +SKIP

Modules: ``sites`` (what a downsampling site is), ``target`` (a variant or ``original``),
``replacement`` (what a site becomes, fitted to keep its output shape), ``modules``
(``SplitStride``, ``TrailingPad``, ``FoldedSubsample``), ``fold`` (a ``subsample`` site's
decimation done by the convolution feeding it, as a strided conv), ``describe`` (one-line
operator summaries), ``cost``
(params, MACs, pooling ops), ``changes`` (the change table), ``model_swap`` (the rewrite of a whole
model). Shapes are recorded by :mod:`poolstride.shape_trace` (``Trace``, ``trace_shapes``,
re-exported here).
"""

from poolstride.shape_trace import Trace, trace_shapes
from poolstride.surgery.changes import Change, Changes
from poolstride.surgery.cost import Cost, module_cost
from poolstride.surgery.describe import describe
from poolstride.surgery.model_swap import default_input_shape, model_variant, swap_downsampling
from poolstride.surgery.modules import SplitStride, TrailingPad
from poolstride.surgery.sites import Site, find_sites
from poolstride.surgery.target import ORIGINAL, parse_target

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
