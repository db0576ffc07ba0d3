"""Per-dimension tables: the PyTorch module, function or shape text for a spatial dimension.

Every layer is 1D (``dim=1``: batched ``(N, C, L)`` signals) or 2D (``dim=2``: batched
``(N, C, H, W)`` images); code that builds or checks a layer looks the dimension up here
instead of writing its own ``{1: nn.Conv1d, 2: nn.Conv2d}``:

- :data:`CONV`, :data:`BATCH_NORM`, :data:`MAX_POOL`, :data:`AVG_POOL`: ``nn.Conv1d`` /
  ``nn.Conv2d``, ``nn.BatchNorm{1,2}d``, ``nn.MaxPool{1,2}d``, ``nn.AvgPool{1,2}d``;
- :data:`CONV_FN`, :data:`MAX_POOL_FN`, :data:`AVG_POOL_FN`: ``F.conv1d`` / ``F.conv2d``,
  ``F.max_pool{1,2}d``, ``F.avg_pool{1,2}d`` (the pooling tables also hold ``3``, for the
  kernels' fallback);
- :data:`ADAPTIVE_MAX_POOL_FN`, :data:`ADAPTIVE_AVG_POOL_FN`: ``F.adaptive_max_pool{1,2}d``,
  ``F.adaptive_avg_pool{1,2}d``;
- :data:`LAYOUT`: ``"(N, C, L)"`` / ``"(N, C, H, W)"``, the input layout as messages write it.

The functional max/avg pooling and convolution tables are defined by
:mod:`poolstride.kernels.fallback` (the kernels, one layer below, need them too) and
re-exported here. Values are plain functions and classes, so modules holding them pickle.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import nn

from poolstride.kernels.fallback import AVG_POOL_FN, CONV_FN, MAX_POOL_FN

#: ``nn.Conv1d`` / ``nn.Conv2d`` by spatial dimension.
CONV: dict[int, type[nn.Module]] = {1: nn.Conv1d, 2: nn.Conv2d}
#: ``nn.BatchNorm1d`` / ``nn.BatchNorm2d`` by spatial dimension.
BATCH_NORM: dict[int, type[nn.Module]] = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d}
#: ``nn.MaxPool1d`` / ``nn.MaxPool2d`` by spatial dimension.
MAX_POOL: dict[int, type[nn.Module]] = {1: nn.MaxPool1d, 2: nn.MaxPool2d}
#: ``nn.AvgPool1d`` / ``nn.AvgPool2d`` by spatial dimension.
AVG_POOL: dict[int, type[nn.Module]] = {1: nn.AvgPool1d, 2: nn.AvgPool2d}
#: ``F.adaptive_max_pool1d`` / ``F.adaptive_max_pool2d`` by spatial dimension.
ADAPTIVE_MAX_POOL_FN = {1: F.adaptive_max_pool1d, 2: F.adaptive_max_pool2d}
#: ``F.adaptive_avg_pool1d`` / ``F.adaptive_avg_pool2d`` by spatial dimension.
ADAPTIVE_AVG_POOL_FN = {1: F.adaptive_avg_pool1d, 2: F.adaptive_avg_pool2d}
#: The batched input layout, as error messages write it.
LAYOUT: dict[int, str] = {1: "(N, C, L)", 2: "(N, C, H, W)"}

__all__ = [
    "ADAPTIVE_AVG_POOL_FN",
    "ADAPTIVE_MAX_POOL_FN",
    "AVG_POOL",
    "AVG_POOL_FN",
    "BATCH_NORM",
    "CONV",
    "CONV_FN",
    "LAYOUT",
    "MAX_POOL",
    "MAX_POOL_FN",
]
