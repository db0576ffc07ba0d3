"""When the fast kernels serve a call, and the record of who served it.

- :func:`fast_path_reason` — why a tensor goes to the PyTorch fallback (None: the kernels
  take it); :func:`enabled`, :func:`set_enabled`, :func:`use_kernels` switch the kernels
  off and on; :func:`available` says whether numba imports at all.
- :func:`dispatch_log` — which implementation served each pooling call inside a block; the
  pooling families call :func:`note` (and layers :func:`note_pytorch`) to fill it.
- :func:`generic_kernels` — the numba kernels of :mod:`poolstride.kernels.generic`, imported
  on first use (importing numba costs ~0.2 s, so ``import poolstride`` stays cheap).

The pooling families themselves live in :mod:`~poolstride.kernels.max_pooling`,
:mod:`~poolstride.kernels.avg_pooling` and :mod:`~poolstride.kernels.blur_pooling`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import torch
import torch.utils._python_dispatch

from poolstride.kernels.call_plan import as4d, is_channels_last

_FLOATS = (torch.float32, torch.float64)
_state = {"enabled": os.environ.get("POOLSTRIDE_KERNELS", "1") != "0", "generic": None}


def generic_kernels():
    """The module of generic numba kernels (imported on first use), or False without numba.

    Its :data:`~poolstride.kernels.generic.KERNELS` table names every kernel."""
    if _state["generic"] is None:
        try:  # imported here, on first use: the one place numba gets imported
            from poolstride.kernels import generic as module
        except ImportError:  # numba missing or broken: the fallback serves every call
            module = False
        _state["generic"] = module
    return _state["generic"]


def enabled() -> bool:
    """Whether the fast kernels are used where they apply (env ``POOLSTRIDE_KERNELS=0`` off)."""
    return bool(_state["enabled"])


def set_enabled(flag: bool) -> None:
    """Switch the fast kernels on or off process-wide (off: PyTorch for every call)."""
    _state["enabled"] = bool(flag)


@contextlib.contextmanager
def use_kernels(flag: bool = True) -> Iterator[None]:
    """Context manager: ``with use_kernels(False): ...`` runs PyTorch's ops inside."""
    before = _state["enabled"]
    _state["enabled"] = bool(flag)
    try:
        yield
    finally:
        _state["enabled"] = before


def available() -> bool:
    """True when numba imports, i.e. the fast kernels can run at all."""
    return bool(generic_kernels())


def _observed() -> bool:
    """True while a TorchFunctionMode or TorchDispatchMode is active.

    Those modes (FlopCounterMode, poolstride's profiler) must see every op; the numba kernels
    run outside torch's dispatch, so under a mode the PyTorch path is taken instead.
    """
    if torch._C._is_torch_function_mode_enabled():
        return True
    return torch.utils._python_dispatch._get_current_dispatch_mode() is not None


def fast_path_reason(x: torch.Tensor) -> str | None:
    """Why ``x`` goes to the PyTorch fallback, or None if the fast kernels take it.

    (Geometry PyTorch rejects also goes to the fallback, so PyTorch raises its own error.)
    """
    if not _state["enabled"]:
        return "kernels disabled"
    if type(x) not in (torch.Tensor, torch.nn.Parameter):
        return f"tensor subclass {type(x).__name__}"
    if x.device.type != "cpu" or x.layout != torch.strided:
        return f"device {x.device.type} / layout {x.layout}"
    if x.dtype not in _FLOATS:
        return f"dtype {x.dtype}"
    if x.ndim not in (3, 4):
        return f"{x.ndim}D input (need batched 1D or 2D)"
    if 0 in x.shape[1:]:
        return "empty channel or spatial dimension"
    if torch.jit.is_scripting() or torch.jit.is_tracing() or torch.compiler.is_compiling():
        return "tracing / compiling"
    if _observed():
        return "a torch function/dispatch mode is watching (profiling, FLOP counting)"
    functorch_active = getattr(torch._C, "_are_functorch_transforms_active", None)
    if functorch_active is not None and functorch_active():
        return "torch.func transform"
    if not generic_kernels():
        return "numba unavailable"
    return None


def fallback_reason(x: torch.Tensor) -> str:
    """Why a call on ``x`` went to PyTorch, for the dispatch log."""
    return fast_path_reason(x) or "configuration not covered by the kernels"


_log: dict = {"calls": None}  # the active dispatch_log list, if any


@contextlib.contextmanager
def dispatch_log() -> Iterator[list[dict]]:
    """Record which implementation serves each pooling call made inside the block.

    Yields a list that fills with one dict per call: ``op`` (the pooling function called:
    ``max``, ``avg``, ``blur`` or ``max+blur``; several downsampling kinds share one, e.g.
    ``lp`` calls ``avg``), ``shape`` (input shape), ``layout`` (``contiguous`` or
    ``channels_last``), ``kernel`` (``poolstride generated`` = constant-folded for the
    window, ``poolstride generic``, or ``pytorch``) and ``reason`` (why PyTorch served it,
    else ``""``).
    """
    before = _log["calls"]
    calls: list[dict] = []
    _log["calls"] = calls
    try:
        yield calls
    finally:
        _log["calls"] = before


def log_active() -> bool:
    """Whether a :func:`dispatch_log` is active (callers skip building labels otherwise)."""
    return _log["calls"] is not None


def note(op: str, x: torch.Tensor, kernel: str, reason: str = "") -> None:
    """Record that ``kernel`` served pooling function ``op`` on ``x`` (if a log is active)."""
    calls = _log["calls"]
    if calls is not None:
        x4 = as4d(x) if x.ndim == 3 else x
        layout = "channels_last" if x4.ndim == 4 and is_channels_last(x4) else "contiguous"
        calls.append(
            {
                "op": op,
                "shape": tuple(x.shape),
                "layout": layout,
                "kernel": kernel,
                "reason": reason,
            }
        )


def note_pytorch(op: str, x: torch.Tensor, reason: str) -> None:
    """Log a call that a caller served with PyTorch itself (see :func:`dispatch_log`)."""
    if _log["calls"] is not None:
        note(op, x, "pytorch", reason)
