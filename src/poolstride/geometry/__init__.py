"""Exact geometry, pure integer arithmetic (no torch): output sizes, receptive fields, shapes.

- :mod:`~poolstride.geometry.output_size` — ``conv_output_size``, ``pool_output_size``,
  ``adaptive_windows``, ``same_padding`` (PyTorch's rules, the one home of the output-size rule).
- :mod:`~poolstride.geometry.receptive_field` — ``ReceptiveField(size, jump, start)`` and the
  rules to compose it through a layer or merge it over branches (exact fractions).
- :mod:`~poolstride.geometry.lint` — warnings for windows that skip inputs or fields that
  outgrow the input.
- :mod:`~poolstride.geometry.shape_strings` — shape strings: ``parse_shape("3x32x32")``,
  ``format_shape``.

The spec language that builds modules from a string lives with the operators:
:mod:`poolstride.layers.spec`.
"""

from __future__ import annotations

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
from poolstride.lazy import lazy_exports

_LAZY = {
    "ReceptiveField": "poolstride.geometry.receptive_field",
    "parse_shape": "poolstride.geometry.shape_strings",
    "parse_input_shape": "poolstride.geometry.shape_strings",
    "shape_or_none": "poolstride.geometry.shape_strings",
    "format_shape": "poolstride.geometry.shape_strings",
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

__getattr__, __dir__ = lazy_exports(
    __name__, _LAZY, eager=tuple(n for n in __all__ if n not in _LAZY)
)
