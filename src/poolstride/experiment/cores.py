"""How many CPU cores this process may use, and how many torch threads each worker gets.

Independent runs side by side use the cores better than one run on all of them, so each of
``workers`` processes may use at most a fair share ``max(1, cores // workers)``. Whether a
share above one helps depends on the model and on how busy the machine is: small CNN steps
are dominated by per-op overhead, where extra intra-op threads mostly wait on each other (a
``simple`` MNIST-1D step on a loaded 2-core machine: 448 ms with 2 threads, 6.1 ms with 1),
while large 2D convolutions on idle cores gain. :func:`pick_threads` decides by timing the
same steps both ways (docs/speed.md, docs/compare.md).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import torch

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


def load_average() -> float | None:
    """The machine's 1-minute load average (runnable processes), or None where the OS has
    none (Windows)."""
    try:
        return float(os.getloadavg()[0])
    except (AttributeError, OSError):
        return None


def load_warning(load: float | None = None, cores: int | None = None) -> str | None:
    """One line when the load average exceeds the cores (timings then measure the other
    processes too), else None."""
    load = load_average() if load is None else load
    cores = cpu_count() if cores is None else cores
    if load is None or load <= cores:
        return None
    return (
        f"warning: load average {load:.1f} exceeds the {cores} cores: other processes "
        "compete for the CPU, so step times (and the estimate) are slower and noisier"
    )


@dataclass(frozen=True)
class ThreadChoice:
    """Torch threads per worker and why: ``ms_by_threads`` maps a thread count to the
    measured time of the same calibration steps (empty when nothing was measured)."""

    threads: int
    reason: str
    ms_by_threads: dict[int, float]

    def to_dict(self) -> dict:
        return {
            "threads": self.threads,
            "reason": self.reason,
            "ms_by_threads": {str(k): v for k, v in self.ms_by_threads.items()},
        }


def pick_threads(
    time_steps: Callable[[], float], workers: int, forced: int | None = None
) -> ThreadChoice:
    """Threads per worker: ``forced`` if given; else the faster of 1 and the fair share
    ``cores // workers``, timing ``time_steps()`` (seconds of the same few training steps)
    under each. With a share of 1 there is nothing to choose and nothing is timed.
    The thread count of this process is restored afterwards."""
    if forced is not None:
        return ThreadChoice(forced, f"{forced} (--threads)", {})
    share = threads_per_worker(workers)
    if share == 1:
        return ThreadChoice(1, f"1 (cores // workers = {cpu_count()} // {workers})", {})
    saved = torch.get_num_threads()
    measured: dict[int, float] = {}
    try:
        for threads in (1, share):
            torch.set_num_threads(threads)
            measured[threads] = 1000 * time_steps()
    finally:
        torch.set_num_threads(saved)
    best = min(measured, key=measured.__getitem__)
    timings = " vs ".join(f"{t} thread{'s' * (t > 1)} {ms:.0f} ms" for t, ms in measured.items())
    return ThreadChoice(best, f"{best} (measured: {timings})", measured)
