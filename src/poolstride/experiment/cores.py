"""How many CPU cores this process may use and how to share them between workers.

Small CNN steps scale badly over intra-op threads, so independent runs side by side use
the cores better than one run on all of them: each of ``workers`` processes gets a fair
share ``max(1, cores // workers)`` (docs/speed.md).
"""

from __future__ import annotations

import os

from poolstride.errors import PoolstrideError


def cpu_count() -> int:
    """Cores this process may use (the affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def resolve_workers(workers: int | None) -> int:
    """``None`` -> the number of cores; otherwise a positive int."""
    if workers is None:
        return cpu_count()
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise PoolstrideError(f"workers must be a positive integer, got {workers!r}")
    return workers


def threads_per_worker(workers: int) -> int:
    """A fair share of the cores for each of ``workers`` processes (at least one)."""
    return max(1, cpu_count() // max(1, workers))
