"""Measurements of models: the profile table (shapes, params, MACs, pooling ops, memory,
receptive fields), receptive-field rules and their gradient-based check, shift consistency and
gradient flow.

Modules: ``profile_table`` (:func:`profile`), ``layer_trace`` (the per-layer trace it reads),
``ops`` (the cost of one torch call, ``CostCounter``), ``extent`` (exact per-unit input
intervals), ``receptive_field_graph`` (the rule per op), ``receptive_field_measured`` (the
back-propagation check), ``shift_consistency``, ``gradient_flow``.

Names are imported lazily so that ``import poolstride.analysis`` stays cheap. No submodule is
called ``profile``: ``poolstride.analysis.profile`` is always the function.
"""

from __future__ import annotations

from poolstride.lazy import lazy_exports

_PROFILE_TABLE = ("profile", "ProfileTable", "LayerRow", "Totals", "CONVENTION", "resolve_model")
_LAZY = {
    **dict.fromkeys(_PROFILE_TABLE, "poolstride.analysis.profile_table"),
    "measure_receptive_field": "poolstride.analysis.receptive_field_measured",
}

__all__ = list(_LAZY)

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
