"""Running a serial kernel over ``[0, count)`` on several threads.

Every numba kernel works on a ``[lo, hi)`` slice of its leading axis and releases the GIL
(``nogil``); :func:`run` splits the axis across ``torch.get_num_threads()`` Python threads.
No numba threading layer, so no second OpenMP runtime competes with PyTorch's, and
concurrent calls from several threads are safe.
"""

from __future__ import annotations

import itertools
import os
from concurrent.futures import ThreadPoolExecutor

import torch

#: Elements of work per extra thread below which a thread hand-off costs more than it saves.
MIN_WORK_PER_THREAD = 1 << 16
#: Chunks per thread (see :func:`run`).
CHUNKS_PER_THREAD = 4
# The thread pool, recreated after a fork: a forked child inherits the executor object but
# not its threads, and would wait forever on work nobody picks up.
_pool: dict = {"executor": None, "workers": 0, "pid": None}


def run(fn, before: tuple, count: int, after: tuple = (), work: int = 0) -> None:
    """``fn(*before, lo, hi, *after)`` over ``[0, count)`` split across threads.

    Uses ``torch.get_num_threads()`` threads (fewer for small ``work``): the calling thread
    and a persistent pool take chunks from a shared counter (the kernels release the GIL).
    Chunks, not one static slice per thread: right after a PyTorch op, PyTorch's OpenMP
    workers keep spinning on their cores for a while, so a pool thread may start late or
    run slowly; the calling thread then simply takes more chunks.
    """
    threads = max(1, min(torch.get_num_threads(), count, work // MIN_WORK_PER_THREAD))
    if threads == 1:
        fn(*before, 0, count, *after)
        return
    if _pool["workers"] < threads - 1 or _pool["pid"] != os.getpid():
        _pool["executor"] = ThreadPoolExecutor(threads - 1, thread_name_prefix="poolstride")
        _pool["workers"] = threads - 1
        _pool["pid"] = os.getpid()
    chunks = min(count, threads * CHUNKS_PER_THREAD)
    bounds = [count * i // chunks for i in range(chunks + 1)]
    counter = itertools.count()  # next() on it is atomic under the GIL

    def work_through() -> None:
        for i in iter(counter.__next__, None):
            if i >= chunks:
                return
            fn(*before, bounds[i], bounds[i + 1], *after)

    futures = [_pool["executor"].submit(work_through) for _ in range(threads - 1)]
    work_through()
    for future in futures:
        future.result()
