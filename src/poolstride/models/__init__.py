"""Backbones parameterised by a downsampling kind.

``build_model(name, kind, input_shape, num_classes)`` with ``MODELS`` = simple, allcnn-a,
allcnn-b, allcnn-c, resnet20, lenet5; every downsampling site is built with
``poolstride.layers.make_downsample``. ``match_budget`` finds the width at which a variant
matches a baseline's parameters or MACs.
"""

from poolstride.models.allcnn import ALLCNN_VARIANTS, allcnn_variant
from poolstride.models.budget import BUDGETS, count_macs, count_params, match_budget, model_cost
from poolstride.models.registry import DEFAULT_KINDS, DEFAULT_WIDTHS, MODELS, build_model

__all__ = [
    "ALLCNN_VARIANTS",
    "BUDGETS",
    "DEFAULT_KINDS",
    "DEFAULT_WIDTHS",
    "MODELS",
    "allcnn_variant",
    "build_model",
    "count_macs",
    "count_params",
    "match_budget",
    "model_cost",
]
