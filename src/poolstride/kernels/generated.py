"""Generated (constant-folded) kernels for common windows and blur filters: which, and where.

Why: with the window size and stride known at compile time, LLVM unrolls the taps into
selects and vectorises across output columns; with runtime sizes the same loop is a chain
of dependent compare/branch steps, measured ~7x slower for 2x2 windows. Numba specialises
on types, not values, so for each window (or blur filter) seen we write a tiny module with
its numbers as literals (text from :mod:`poolstride.kernels.generated_source`) into a cache
directory and import it; ``cache=True`` then keeps its machine code on disk, so each
configuration compiles once per machine. Each generated module names its kernels in its own
``KERNELS`` table, keyed like :data:`poolstride.kernels.generic.KERNELS`.

:func:`pool_kernels` gives the max/avg kernel table of a window, :func:`blur_kernels` the
blur kernel table of a filter (empty where the generic kernels serve).

Cache directory: ``$POOLSTRIDE_KERNEL_CACHE`` or ``~/.cache/poolstride/kernels`` (falls
back to the temp directory when not writable).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import tempfile
from pathlib import Path

from poolstride.kernels.generated_source import blur_source, pool_source

# Which windows get their own kernel: the common downsampling ones (each configuration
# costs ~1 s of compilation once per machine); everything else runs the generic kernel.
# Padding is at most kernel // 2 (PyTorch's limit): 0 or 1 here, also a constant.
SIZES = (2, 3)
STRIDES = (1, 2)
_VERSION = 31  # bump when the template changes (file names carry it)
_loaded: dict[tuple, object] = {}


def _cache_dir() -> Path:
    env = os.environ.get("POOLSTRIDE_KERNEL_CACHE")
    candidates = [Path(env)] if env else []
    candidates += [
        Path.home() / ".cache" / "poolstride" / "kernels",
        Path(tempfile.gettempdir()) / f"poolstride-kernels-{os.getuid()}",
    ]
    for path in candidates:
        try:
            path.mkdir(parents=True, exist_ok=True)
            if os.access(path, os.W_OK):
                return path
        except OSError:
            continue
    raise OSError("no writable cache directory for poolstride kernels")


def _write_once(path: Path, text: str) -> None:
    # Rewriting an identical file would bump its mtime and invalidate numba's disk cache;
    # write atomically so concurrent processes never import a half-written module.
    if path.exists() and path.read_text() == text:
        return
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _load(name: str, text: str):
    """Write ``text`` to the cache directory (once) and import it; False if not writable."""
    try:
        digest = hashlib.sha1(text.encode()).hexdigest()[:8]
        name = f"{name}_v{_VERSION}_{digest}"
        path = _cache_dir() / f"{name}.py"
        _write_once(path, text)
        spec = importlib.util.spec_from_file_location(f"poolstride_kernels_{name}", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        return module
    except OSError:
        return False


def pool_kernels(kernel, stride, padding, dilation) -> dict:
    """The ``KERNELS`` table of the generated module for this window, or ``{}``.

    Its kernels: NCHW planes ``max_fwd_planar(x, x, out, idx, lo, hi)``, for
    stride 2 ``max_fwd_pairs(x, pairs, out, idx, lo, hi)`` (for overlapping 3x3/2 windows
    also the separable ``max_fwd_rows``, same arguments), for stride 1 without padding
    ``max_fwd_dense(x, x, out, idx, lo, hi)`` (uint8 taps), ``max_bwd_planar(grad_out,
    grad_bits, idx, grad_in, grad_in_bits, lo, hi, consts)``, ``avg_fwd_planar(x, out, lo,
    hi, ph, pw, count_include_pad, divisor)`` and ``avg_bwd_planar(grad_out, grad_in,
    <same>)``; channels-last ``max_fwd_cl(x, out, idx, lo, hi)`` and ``avg_fwd_cl`` (as
    ``avg_fwd_planar``). Empty for windows outside the common set (``kernel`` and ``stride``
    in :data:`SIZES` / :data:`STRIDES`, square in 2D, no dilation; a 1D problem has
    ``kh == 1``) or when no cache directory is writable."""
    kh, kw = kernel
    sh, sw = stride
    square = (kh == kw and sh == sw) or (kh == 1 and sh == 1)
    if not (square and kw in SIZES and sw in STRIDES and tuple(dilation) == (1, 1)):
        return {}
    key = (*kernel, *stride, *padding)
    module = _loaded.get(key)
    if module is None:
        module = _load("pool_k{}x{}_s{}x{}_p{}x{}".format(*key), pool_source(*key))
        _loaded[key] = module
    return module.KERNELS if module else {}


BLUR_SIZES = range(2, 8)  # blur filter sizes with generated kernels


def blur_kernels(taps: int, stride: int, pad_lo: int, dtype: str) -> dict:
    """The ``KERNELS`` table of the generated blur module for ``dtype`` ("float32" or
    "float64"), a filter of ``taps`` in :data:`BLUR_SIZES`, stride in :data:`STRIDES` and
    ``pad_lo < taps``; ``{}`` otherwise.

    It holds ``resample_fwd_planar``, ``resample_bwd_planar``,
    ``resample_fwd_cl`` and ``resample_bwd_cl``, with the signatures of the generic ones."""
    if taps not in BLUR_SIZES or stride not in STRIDES or not 0 <= pad_lo < taps:
        return {}
    key = ("blur", taps, stride, pad_lo, {"float32": "complex64", "float64": "complex128"}[dtype])
    module = _loaded.get(key)
    if module is None:
        module = _load("blur_k{}_s{}_p{}_{}".format(*key[1:]), blur_source(*key[1:]))
        _loaded[key] = module
    return module.KERNELS if module else {}
