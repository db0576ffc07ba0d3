"""Fast CPU pooling kernels (numba), used automatically by ``poolstride.layers.functional``.

- :func:`max_pool`, :func:`avg_pool` — drop-in for ``torch.nn.functional.{max,avg}_pool{1,2}d``
- :func:`blur_pool` — fused depthwise binomial blur + subsample
- :func:`max_blur_pool` — 2-window max at stride 1 then blur_pool, fused (``blur-max``)
- :func:`fast_path_reason`, :func:`available`, :func:`enabled`, :func:`set_enabled`,
  :func:`use_kernels` — when the kernels run, and switching them off
- :func:`dispatch_log` — which implementation served each call (poolstride or PyTorch);
  :func:`note_pytorch` — log a call a caller served with PyTorch itself
- :mod:`poolstride.kernels.fallback` — the pure-PyTorch versions

Modules, from the entry points down: ``max_pooling``, ``avg_pooling``, ``blur_pooling`` (one
per pooling family; ``linear`` runs the linear ones, average and blur), ``dispatch`` (when
the kernels serve a call, the dispatch log), ``threads`` (splitting a kernel across
threads), ``call_plan`` (shapes, layout and geometry of one call), ``generic`` (the numba
kernels for any window, with their lookup table ``KERNELS``), ``generated`` and
``generated_source`` (constant-folded kernels for common windows), ``fallback``.

Importing this package does not import numba; the first kernel call does (see docs/kernels.md
for compile and cache latency).
"""

from __future__ import annotations

from poolstride.kernels.avg_pooling import avg_pool
from poolstride.kernels.blur_pooling import blur_pool, max_blur_pool
from poolstride.kernels.dispatch import (
    available,
    dispatch_log,
    enabled,
    fast_path_reason,
    note_pytorch,
    set_enabled,
    use_kernels,
)
from poolstride.kernels.max_pooling import max_pool

__all__ = [
    "available",
    "avg_pool",
    "blur_pool",
    "dispatch_log",
    "enabled",
    "fast_path_reason",
    "max_blur_pool",
    "max_pool",
    "note_pytorch",
    "set_enabled",
    "use_kernels",
]
