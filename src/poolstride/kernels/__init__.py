"""Fast CPU pooling kernels (numba), used automatically by ``poolstride.layers.functional``.

- :func:`max_pool`, :func:`avg_pool` — drop-in for ``torch.nn.functional.{max,avg}_pool{1,2}d``
- :func:`blur_pool` — fused depthwise binomial blur + subsample
- :func:`max_blur_pool` — 2-window max at stride 1 then blur_pool, fused (``blur-max``)
- :func:`fast_path_reason`, :func:`available`, :func:`enabled`, :func:`set_enabled`,
  :func:`use_kernels` — when the kernels run, and switching them off
- :func:`dispatch_log` — which implementation served each call (poolstride or PyTorch)
- :mod:`poolstride.kernels.fallback` — the pure-PyTorch versions

Importing this package does not import numba; the first kernel call does (see docs/kernels.md
for compile and cache latency).
"""

from __future__ import annotations

from poolstride.kernels.functions import (
    available,
    avg_pool,
    blur_pool,
    dispatch_log,
    enabled,
    fast_path_reason,
    max_blur_pool,
    max_pool,
    set_enabled,
    use_kernels,
)

__all__ = [
    "available",
    "avg_pool",
    "blur_pool",
    "dispatch_log",
    "enabled",
    "fast_path_reason",
    "max_blur_pool",
    "max_pool",
    "set_enabled",
    "use_kernels",
]
