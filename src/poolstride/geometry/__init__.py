"""Exact geometry: output sizes (PyTorch's rules), receptive fields, the spec mini-language.

- :mod:`~poolstride.geometry.output_size` — ``conv_output_size``, ``pool_output_size``,
  ``adaptive_windows``, ``same_padding`` (pure integer arithmetic, no torch).
- :mod:`~poolstride.geometry.receptive_field` — ``ReceptiveField(size, jump, start)`` and the
  rules to compose it through a layer or merge it over branches (exact fractions).
- :mod:`~poolstride.geometry.spec` — ``parse_spec("conv3-96, max2, gap")`` and
  ``build_spec(...)`` into a real ``nn.Module`` (imported lazily: it needs ``poolstride.layers``,
  which itself uses the output-size rules here).
"""

from __future__ import annotations

import importlib

from poolstride.geometry.output_size import (
    Padding,
    adaptive_output_size,
    adaptive_windows,
    as_tuple,
    ceil_div,
    conv_output_shape,
    conv_output_size,
    effective_kernel,
    pool_output_shape,
    pool_output_size,
    resolve_padding,
    same_padding,
)

_LAZY = {
    "ReceptiveField": "poolstride.geometry.receptive_field",
    "parse_spec": "poolstride.geometry.spec",
    "build_spec": "poolstride.geometry.spec",
    "SpecItem": "poolstride.geometry.spec",
    "SpecNet": "poolstride.geometry.spec",
    "spec_shapes": "poolstride.geometry.spec",
    "parse_shape": "poolstride.geometry.spec",
    "window_warnings": "poolstride.geometry.lint",
    "receptive_field_warnings": "poolstride.geometry.lint",
}

__all__ = [
    "Padding",
    "adaptive_output_size",
    "adaptive_windows",
    "as_tuple",
    "ceil_div",
    "conv_output_shape",
    "conv_output_size",
    "effective_kernel",
    "pool_output_shape",
    "pool_output_size",
    "resolve_padding",
    "same_padding",
    *_LAZY,
]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'poolstride.geometry' has no attribute {name!r}")
