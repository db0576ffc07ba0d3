"""When an image folder is held in memory and when it is streamed from its cache.

The decoded images (uint8 for 8-bit images) are held in memory when their bytes fit under the
memory cap: ``memory_cap`` GB (10**9 bytes) when given, else half the memory available now
(``MemAvailable`` of ``/proc/meminfo``, else free physical pages). Above the cap, or when
streaming is asked for, batches are read from the memory-mapped cache instead.
"""

from __future__ import annotations

import os

from poolstride.errors import PoolstrideError

GB = 10**9


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation without swapping, or None if unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, OSError, ValueError):
        return None


def memory_cap_bytes(memory_cap: float | None) -> int | None:
    """The cap in bytes: ``memory_cap`` GB, else half the available memory (None: no cap)."""
    if memory_cap is None:
        available = available_memory()
        return None if available is None else available // 2
    if isinstance(memory_cap, bool) or not isinstance(memory_cap, (int, float)):
        raise PoolstrideError(f"memory_cap must be a number of GB, got {memory_cap!r}")
    if not memory_cap > 0:
        raise PoolstrideError(f"memory_cap must be > 0 GB, got {memory_cap!r}")
    return int(memory_cap * GB)


def streams(nbytes: int, stream: bool, memory_cap: float | None) -> bool:
    """Whether ``nbytes`` of decoded images are streamed (asked, or above the cap)."""
    if stream:
        return True
    cap = memory_cap_bytes(memory_cap)
    return cap is not None and nbytes > cap
