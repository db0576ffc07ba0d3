"""A retaining memory allocator for processes that train (glibc only; elsewhere a no-op).

Why: a training step of a small CNN on CPU allocates and frees the same large activation
and gradient buffers every step. glibc's ``malloc`` serves buffers above its mmap threshold
(128 KiB, raised dynamically to at most 32 MiB) with a fresh ``mmap`` and unmaps them on
``free``, and trims the top of its heap once more than 128 KiB is free there. Either way the
memory goes back to the kernel, and the next step faults every page in again: measured, the
``simple`` CNN at width 64 on 3x32x32 images (batch 128, one thread) took ~55,000 minor page
faults per step, 35% of its CPU time in the kernel. With the settings below it takes under
1,000 faults per step (none once the heap has reached its high-water mark) and ~1% system
time (docs/speed.md has the numbers).

:func:`apply` sets, once per process, through ``mallopt``:

- ``M_MMAP_THRESHOLD`` = 1 GiB: buffers below 1 GiB come from the heap, not from ``mmap``
  (glibc before 2.35 refuses values above 32 MiB; then ``M_MMAP_MAX`` = 0 instead, which
  measured the same);
- ``M_TRIM_THRESHOLD`` = 1 GiB: free memory at the top of the heap is given back to the
  kernel only above 1 GiB, so a step's buffers are reused by the next step.

Either alone does not help (the threshold alone halves the faults; an explicit trim threshold
alone *doubles* them, because setting it also switches off glibc's dynamic mmap threshold).
Memory freed during training stays reserved by the process until it exits, and the heap
fragments where glibc would have unmapped: peak RSS measured 6-16% higher for a training step,
30-45% for a whole ``compare`` (``--allocator default`` where memory is tighter than time). The settings affect allocations made after the call,
so they are applied before data and models are loaded; a process that had already trimmed is
fine from then on. They cannot be undone: ``apply("default")`` after ``apply("retain")``
keeps ``retain`` (and :func:`current` says so).

``POOLSTRIDE_ALLOCATOR=default`` in the environment turns the settings off in every process
(worker processes inherit it); ``--allocator default`` (``CompareConfig.allocator``) does the
same for one comparison. Results do not depend on the allocator, so it is not part of a run's
identity; each run records the one its process used (metric ``allocator``).
"""

from __future__ import annotations

import ctypes
import os
import platform

from poolstride.errors import unknown

#: allocator choices: ``retain`` (the mallopt settings above, on glibc) or ``default``
ALLOCATORS = ("retain", "default")
#: environment variable that turns the retaining settings off (``default``)
ENV_VAR = "POOLSTRIDE_ALLOCATOR"

# glibc's mallopt parameter numbers (malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_MMAP_MAX = -4

#: bytes: allocations at least this large still get their own mmap (and go back at free)
MMAP_THRESHOLD = 1 << 30
#: bytes: free memory at the top of the heap beyond this is returned to the kernel
TRIM_THRESHOLD = 1 << 30

_state = {"applied": None}  # None until apply() ran in this process; then what it set


def choice(requested: str | None = None) -> str:
    """The allocator to use: ``requested`` (default ``retain``) unless the environment
    variable ``POOLSTRIDE_ALLOCATOR`` says ``default``. An unknown name raises."""
    requested = (requested or "retain").lower()
    if requested not in ALLOCATORS:
        raise unknown("allocator", requested, ALLOCATORS)
    env = os.environ.get(ENV_VAR, "").strip().lower()
    if env and env not in ALLOCATORS:
        raise unknown(f"allocator in ${ENV_VAR}", env, ALLOCATORS)
    return "default" if env == "default" else requested


def glibc() -> ctypes.CDLL | None:
    """This process's C library if it is glibc (``mallopt`` and ``gnu_get_libc_version``
    both present), else None (macOS, musl, Windows)."""
    if platform.system() != "Linux":
        return None
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 - raises AttributeError off glibc
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return None
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return libc


def apply(requested: str | None = "retain") -> str:
    """Set the allocator of this process (once); return what is in effect (:func:`current`).

    ``retain`` on glibc sets the thresholds described in the module docstring; ``default``,
    or any other C library, changes nothing. Called again, it changes nothing either.
    """
    wanted = choice(requested)
    if _state["applied"] is None and wanted == "retain":
        libc = glibc()
        if libc is None:
            _state["applied"] = "default (not glibc)"
        else:
            ok = libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
            if not ok:  # glibc < 2.35 caps the threshold at 32 MiB: no mmap at all instead
                ok = libc.mallopt(M_MMAP_MAX, 0) == 1
            ok = libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1 and ok
            _state["applied"] = "retain" if ok else "default (mallopt refused)"
    return current()


def current() -> str:
    """``retain`` if :func:`apply` set the retaining thresholds in this process, else
    ``default`` (with the reason in parentheses when retain was asked for but not possible)."""
    return _state["applied"] or "default"


__all__ = ["ALLOCATORS", "ENV_VAR", "apply", "choice", "current", "glibc"]
