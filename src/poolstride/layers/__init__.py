"""The downsampling operators: one factory, one file per family.

>>> import torch
>>> from poolstride.layers import make_downsample, make_head
>>> down = make_downsample("max:k3", 16)           # 3x3 window, stride 2, padding 1
>>> down(torch.randn(1, 16, 32, 32)).shape
torch.Size([1, 16, 16, 16])
>>> make_head("gap", 16)(torch.randn(1, 16, 7, 7)).shape
torch.Size([1, 16])

Vocabulary: a *kind* is a downsampling family (``max``), a *variant* is a kind with its
options as one string (``max:k3``); every module has both as ``kind`` and ``variant``.

Files: ``pooling`` (max, avg), ``learnable`` (lp, soft, mixed, gated), ``blur``
(anti-aliased), ``strided`` (conv, dwconv), ``reshaping`` (space-to-depth, subsample, none),
``adaptive``, ``heads`` (global heads), ``kinds`` (the table of kinds, read from the
classes), ``variant`` (the variant mini-language) and ``option_tokens`` (its option
tokens), ``factory``, ``functional`` (the max/avg pooling dispatch point), ``base`` (shared
geometry and checks), ``dims`` (the per-dimension module and function tables).
"""

from poolstride.layers.adaptive import AdaptiveAvgPool, AdaptiveMaxPool
from poolstride.layers.base import Downsample
from poolstride.layers.blur import BlurAvgPool, BlurConv, BlurMaxPool, BlurPool, binomial_filter
from poolstride.layers.factory import make_downsample
from poolstride.layers.functional import avg_pool, max_pool
from poolstride.layers.heads import (
    HEADS,
    AvgMaxPool,
    CatAvgMaxPool,
    FlattenHead,
    GlobalAvgPool,
    GlobalHead,
    GlobalMaxPool,
    head_features,
    make_head,
)
from poolstride.layers.kinds import DOWNSAMPLE_CLASSES, KIND_OPTIONS, KINDS, PARAMETER_FREE_KINDS
from poolstride.layers.learnable import GatedPool, LpPool, MixedPool, SoftPool
from poolstride.layers.pooling import AvgPool, MaxPool
from poolstride.layers.reshaping import NoDownsample, SpaceToDepth, Subsample, space_to_depth
from poolstride.layers.strided import DepthwiseStridedConv, StridedConv
from poolstride.layers.variant import format_variant, parse_variant

__all__ = [
    "KINDS",
    "HEADS",
    "KIND_OPTIONS",
    "PARAMETER_FREE_KINDS",
    "DOWNSAMPLE_CLASSES",
    "make_downsample",
    "make_head",
    "head_features",
    "parse_variant",
    "format_variant",
    "max_pool",
    "avg_pool",
    "space_to_depth",
    "binomial_filter",
    "Downsample",
    "MaxPool",
    "AvgPool",
    "LpPool",
    "SoftPool",
    "MixedPool",
    "GatedPool",
    "BlurPool",
    "BlurMaxPool",
    "BlurAvgPool",
    "BlurConv",
    "StridedConv",
    "DepthwiseStridedConv",
    "SpaceToDepth",
    "Subsample",
    "NoDownsample",
    "AdaptiveMaxPool",
    "AdaptiveAvgPool",
    "GlobalHead",
    "GlobalAvgPool",
    "GlobalMaxPool",
    "AvgMaxPool",
    "CatAvgMaxPool",
    "FlattenHead",
]
