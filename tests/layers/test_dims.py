"""The per-dimension tables: one entry per spatial dimension, each building or computing the
dimension it is filed under."""

from __future__ import annotations

import torch

from poolstride.layers import dims


def test_module_tables_build_modules_of_their_dimension():
    x = {1: torch.randn(2, 3, 8), 2: torch.randn(2, 3, 8, 8)}
    for dim in (1, 2):
        assert dims.CONV[dim](3, 4, 3)(x[dim]).ndim == dim + 2
        assert dims.BATCH_NORM[dim](3)(x[dim]).shape == x[dim].shape
        assert dims.MAX_POOL[dim](2)(x[dim]).shape[2:] == (4,) * dim
        assert dims.AVG_POOL[dim](2)(x[dim]).shape[2:] == (4,) * dim


def test_function_tables_compute_in_their_dimension():
    x = {1: torch.randn(2, 3, 8), 2: torch.randn(2, 3, 8, 8)}
    for dim in (1, 2):
        weight = torch.randn(4, 3, *(3,) * dim)
        assert dims.CONV_FN[dim](x[dim], weight).shape[2:] == (6,) * dim
        assert dims.MAX_POOL_FN[dim](x[dim], 2).shape[2:] == (4,) * dim
        assert dims.AVG_POOL_FN[dim](x[dim], 2).shape[2:] == (4,) * dim
        assert dims.ADAPTIVE_MAX_POOL_FN[dim](x[dim], 3).shape[2:] == (3,) * dim
        assert dims.ADAPTIVE_AVG_POOL_FN[dim](x[dim], 3).shape[2:] == (3,) * dim


def test_layout_strings():
    assert dims.LAYOUT == {1: "(N, C, L)", 2: "(N, C, H, W)"}
    tables = {name for name, value in vars(dims).items() if isinstance(value, dict)}
    assert set(dims.__all__) == {name for name in tables if not name.startswith("_")}
