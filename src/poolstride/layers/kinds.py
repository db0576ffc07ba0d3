"""The downsampling kinds: one table, read from the module classes.

Each :class:`~poolstride.layers.base.Downsample` class states its facts once, on itself: its
``kind`` name, its keyword options (its ``__init__`` signature, collected as
``option_names``) and whether it is ``learnable``. The tables here are derived from the
classes, in documentation order:

- :data:`DOWNSAMPLE_CLASSES`: kind name -> module class;
- :data:`KINDS`: the kind names;
- :data:`KIND_OPTIONS`: the keyword options each kind accepts, in canonical (formatting)
  order — what the variant language (:mod:`poolstride.layers.variant`) parses and writes;
- :data:`PARAMETER_FREE_KINDS`: the kinds with no learnable parameters.
"""

from __future__ import annotations

from poolstride.layers.adaptive import AdaptiveAvgPool, AdaptiveMaxPool
from poolstride.layers.base import Downsample
from poolstride.layers.blur import BlurAvgPool, BlurConv, BlurMaxPool
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
