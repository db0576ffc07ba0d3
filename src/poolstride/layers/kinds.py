"""The downsampling kinds: one table, read from the module classes.

Each :class:`~poolstride.layers.base.Downsample` class states its facts once, on itself: its
``kind`` name, its keyword options (its ``__init__`` signature, collected as
``option_names``) and whether it is ``learnable``. The tables here are derived from the
classes, in documentation order:

- :data:`DOWNSAMPLE_CLASSES`: kind name -> module class;
- :data:`KINDS`: the kind names;
- :data:`KIND_OPTIONS`: the keyword options each kind accepts, in canonical (formatting)
  order — what the variant language (:mod:`poolstride.layers.variant`) parses and writes;
- :data:`PARAMETER_FREE_KINDS`: the kinds with no learnable parameters;
- :data:`CHANNELWISE_CLASSES`: the layer classes (kinds, blur, heads) that keep channels apart.
"""

from __future__ import annotations

from torch import nn

from poolstride.layers.adaptive import AdaptiveAvgPool, AdaptiveMaxPool
from poolstride.layers.base import Downsample
from poolstride.layers.blur import BlurAvgPool, BlurConv, BlurMaxPool, BlurPool
from poolstride.layers.heads import AvgMaxPool, FlattenHead, GlobalAvgPool, GlobalMaxPool
from poolstride.layers.learnable import GatedPool, LpPool, MixedPool, SoftPool
from poolstride.layers.pooling import AvgPool, MaxPool
from poolstride.layers.reshaping import NoDownsample, SpaceToDepth, Subsample
from poolstride.layers.strided import DepthwiseStridedConv, StridedConv

#: Kind name -> module class. Every class takes ``(in_channels, out_channels=None, *,
#: factor=2, dim=2, **options)`` with the options of :data:`KIND_OPTIONS`.
DOWNSAMPLE_CLASSES: dict[str, type[Downsample]] = {
    cls.kind: cls
    for cls in (
        MaxPool,
        AvgPool,
        LpPool,
        SoftPool,
        MixedPool,
        GatedPool,
        BlurMaxPool,
        BlurAvgPool,
        BlurConv,
        StridedConv,
        DepthwiseStridedConv,
        SpaceToDepth,
        Subsample,
        NoDownsample,
        AdaptiveMaxPool,
        AdaptiveAvgPool,
    )
}

#: All downsampling kind names, in documentation order.
KINDS: tuple[str, ...] = tuple(DOWNSAMPLE_CLASSES)

#: Options each downsampling kind accepts, in canonical (formatting) order: the keyword-only
#: parameters of its class's ``__init__`` other than ``factor`` and ``dim``.
KIND_OPTIONS: dict[str, tuple[str, ...]] = {
    kind: cls.option_names for kind, cls in DOWNSAMPLE_CLASSES.items()
}

#: Kinds with no learnable parameters (when ``out_channels == in_channels``).
PARAMETER_FREE_KINDS: tuple[str, ...] = tuple(
    kind for kind, cls in DOWNSAMPLE_CLASSES.items() if not cls.learnable
)

#: Layer classes whose own forward keeps channels apart: the outputs of input channel ``c``
#: come after those of ``c - 1``, and nothing (value or parameter) is shared across channels;
#: learnable children such as ``conv`` or ``proj`` are modules of their own. Every kind but
#: ``mixed`` and ``gated`` (one weight or gate for all channels), :class:`BlurPool`, and the
#: global heads but ``catavgmax`` (all averages, then all maxima).
CHANNELWISE_CLASSES: tuple[type[nn.Module], ...] = (
    *(cls for cls in DOWNSAMPLE_CLASSES.values() if cls not in (MixedPool, GatedPool)),
    BlurPool,
    GlobalAvgPool,
    GlobalMaxPool,
    AvgMaxPool,
    FlattenHead,
)
