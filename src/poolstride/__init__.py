"""poolstride: should a CNN downsample with pooling or with a strided convolution?

Public API (imported lazily so ``import poolstride`` stays cheap):

- :func:`make_downsample` / :func:`make_head` — the operator family (``poolstride.layers``)
- :func:`profile` — per-layer shapes, params, MACs, receptive fields (``poolstride.analysis``)
- :func:`compare` — multi-seed controlled comparison (``poolstride.experiment``)
- :func:`swap_downsampling` — rewrite the downsampling of any ``nn.Module``
- :func:`walkthrough` — step-by-step explanation of a pooling window or strided kernel
"""

from __future__ import annotations

from poolstride._version import __version__
from poolstride.errors import PoolstrideError
from poolstride.lazy import lazy_exports

_LAZY = {
    "make_downsample": "poolstride.layers",
    "make_head": "poolstride.layers",
    "KINDS": "poolstride.layers",
    "profile": "poolstride.analysis.profile_table",
    "compare": "poolstride.comparison",
    "swap_downsampling": "poolstride.surgery",
    "walkthrough": "poolstride.explain",
}

__all__ = ["PoolstrideError", "__version__", *_LAZY]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, eager=("PoolstrideError", "__version__"))
