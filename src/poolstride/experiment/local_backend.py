"""Running tasks on this machine: in this process, or on a pool of spawned processes.

Both take :class:`~poolstride.experiment.task.Task`\\ s and yield ``(task, outcomes)``; the
caller (the grid) writes the store. A worker process lost mid-task (killed, out of memory)
breaks the pool: the tasks still pending are resubmitted to a fresh pool, each at most
``max_retries`` times, then reported failed with the reason.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
from collections.abc import Callable, Iterator, Sequence

import torch

from poolstride.experiment import allocator as alloc
from poolstride.experiment.cores import threads_per_worker
from poolstride.experiment.task import Outcome, ProgressCallback, Task, lost_outcomes, run_task


def run_in_process(
    tasks: Sequence[Task],
    *,
    threads: int,
    on_start: Callable[[Task], None] | None = None,
    on_progress: ProgressCallback | None = None,
    allocator: str = "retain",
) -> Iterator[tuple[Task, list[Outcome]]]:
    """Run ``tasks`` one after another in this process with ``threads`` torch threads
    (and the ``allocator`` of :mod:`~poolstride.experiment.allocator`)."""
    alloc.apply(allocator)
    saved = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        for task in tasks:
            if on_start is not None:
                on_start(task)
            yield task, run_task(task, on_progress)
    finally:
        torch.set_num_threads(saved)


def init_worker(threads: int, allocator: str = "retain") -> None:
    """Initialiser of each pool process: its allocator (before any training), its torch
    thread count."""
    alloc.apply(allocator)
    torch.set_num_threads(threads)


def run_local_pool(
    tasks: Sequence[Task],
    workers: int,
    *,
    threads: int | None = None,
    max_retries: int = 2,
    runner: Callable[[Task], list[Outcome]] = run_task,
    allocator: str = "retain",
) -> Iterator[tuple[Task, list[Outcome]]]:
    """Run ``tasks`` on ``workers`` spawned processes; yield ``(task, outcomes)`` as each ends.

    Each process sets its ``allocator`` (:mod:`~poolstride.experiment.allocator`) first."""
    threads = threads or threads_per_worker(workers)
    # spawn, not fork: forking a process whose OpenMP threads are running can deadlock
    ctx = multiprocessing.get_context("spawn")
    attempts = {id(t): 0 for t in tasks}
    pending = list(tasks)
    while pending:
        retry: list[Task] = []
        with cf.ProcessPoolExecutor(
            min(workers, len(pending)),
            mp_context=ctx,
            initializer=init_worker,
            initargs=(threads, allocator),
        ) as pool:
            futures = {pool.submit(runner, t): t for t in pending}
            for fut in cf.as_completed(futures):
                task = futures[fut]
                try:
                    yield task, fut.result()
                except cf.process.BrokenProcessPool as err:
                    attempts[id(task)] += 1
                    if attempts[id(task)] > max_retries:
                        yield task, lost_outcomes(task, err)
                    else:
                        retry.append(task)
        pending = retry
