"""Measurements of models: the profile table (shapes, params, MACs, pooling ops, memory,
receptive fields), receptive-field rules and their gradient-based check, and (elsewhere in this
package) shift invariance and gradient flow.

Submodules are imported lazily so that ``import poolstride.analysis`` stays cheap.
"""

from __future__ import annotations

import importlib

_LAZY = {
    "profile": "poolstride.analysis.profile",
    "ProfileTable": "poolstride.analysis.profile",
    "LayerRow": "poolstride.analysis.profile",
    "Totals": "poolstride.analysis.profile",
    "CONVENTION": "poolstride.analysis.profile",
    "resolve_model": "poolstride.analysis.profile",
    "measure_receptive_field": "poolstride.analysis.receptive_field",
}

__all__ = list(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'poolstride.analysis' has no attribute {name!r}")
