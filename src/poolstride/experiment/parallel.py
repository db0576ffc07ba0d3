"""Spreading a grid over local processes or a Ray cluster; the parent alone writes the store.

A grid is cut into :class:`Task`\\ s — one run, or the seeds of one variant trained as one
seed-fused model (:mod:`poolstride.experiment.batched`) — and the tasks go to a backend:

- ``local`` with ``workers == 1``: this process, one task after another;
- ``local`` with ``workers > 1``: a pool of ``workers`` spawned processes, each with
  ``max(1, cores // workers)`` torch threads (small CNN steps scale badly over threads, so
  independent runs side by side use the cores better than one run on all of them);
- ``ray``: Ray tasks on an existing cluster (``address``) or on a local one started here
  (:mod:`poolstride.experiment.ray_backend`).

Whatever the backend, outcomes come back to this process, which writes each finished task's
runs to the store at once (one row per run). Resuming is by key: a grid interrupted at any
point (even SIGKILL) and run again trains only the runs missing from the store. A worker
process lost mid-task (killed, out of memory) is retried up to ``max_retries`` times, then
its runs are stored as failed with the reason.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from poolstride.errors import PoolstrideError, unknown
from poolstride.experiment.config import RunConfig

BACKENDS = ("local", "ray")


@dataclass(frozen=True)
class Task:
    """A unit of work for one worker: ``configs`` (one run, or several seeds of one variant).

    ``fused``: train the configs as one seed-fused model. ``own_loop``: use the batched
    loop even for one run (it carries ``amp``/``channels_last``).
    """

    configs: tuple[RunConfig, ...]
    fused: bool = False
    own_loop: bool = False
    channels_last: bool = False

    @property
    def label(self) -> str:
        seeds = ",".join(str(c.seed) for c in self.configs)
        return f"{self.configs[0].variant} seed{'s' if len(self.configs) > 1 else ''} {seeds}"


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


def fused_chunk_size(groups: int, seeds: int, workers: int) -> int:
    """Seeds per fused task so that ``groups`` variants still make at least ``workers`` tasks.

    When there are fewer variants than workers, each variant's seeds are cut into
    ``ceil(workers / groups)`` chunks: ``(1 variant, 10 seeds, 4 workers) -> 3``;
    ``(2 variants, 5 seeds, 16 workers) -> 1`` (no fusion).
    """
    chunks = max(1, -(-workers // max(1, groups)))
    return max(1, -(-seeds // chunks))


def chunk_sizes(groups: int, seeds: int, workers: int) -> list[int]:
    """Seeds per fused task for each of ``groups`` variants, keeping ``workers`` busy.

    Whole variants are fused in rounds of ``workers`` (every worker gets one per round); the
    variants left over after the last full round are cut by :func:`fused_chunk_size`, so the
    grid does not end with one worker training a whole fused variant while the others idle.
    5 variants x 3 seeds on 2 workers: ``[3, 3, 3, 3, 2]`` (4 fused tasks, then the last
    variant as 2 + 1 seeds): the busiest worker trains 8 seed-runs, against 9 with 5 fused
    tasks.
    """
    full = (groups // max(1, workers)) * max(1, workers)
    rest = groups - full
    return [seeds] * full + [fused_chunk_size(rest, seeds, workers)] * rest


def plan(
    configs: Sequence[RunConfig],
    *,
    batch_seeds: bool | None = None,
    channels_last: bool = False,
    workers: int = 1,
) -> tuple[list[Task], list[str]]:
    """Cut ``configs`` into tasks; return them with notes for the user (why seeds of a
    variant were not fused).

    Configs that differ only in the seed form a group. ``batch_seeds=True`` fuses each
    group into one task; ``None`` (the default) fuses in chunks (:func:`chunk_sizes`) that
    keep ``workers`` processes busy to the end; ``False`` gives one task per run. Groups whose model cannot be fused run one task per run, with a note.
    Fused (longer) tasks come first so the pool's tail is short.
    """
    groups: dict[RunConfig, list[RunConfig]] = {}
    for cfg in configs:
        groups.setdefault(dataclasses.replace(cfg, seed=0), []).append(cfg)
    most_seeds = max((len(m) for m in groups.values()), default=1)
    if batch_seeds is None:
        chunks = chunk_sizes(len(groups), most_seeds, workers)
    else:
        chunks = [most_seeds if batch_seeds else 1] * len(groups)
    tasks: list[Task] = []
    notes: list[str] = []
    for (base, members), chunk in zip(groups.items(), chunks):
        own_loop = channels_last or getattr(base, "amp", "none") != "none"
        reason = fusion_reason(base) if chunk > 1 and len(members) > 1 else None
        if reason is not None:
            notes.append(f"{base.variant}: seeds trained separately ({reason})")
        size = chunk if reason is None else 1
        for start in range(0, len(members), size):
            part = tuple(members[start : start + size])
            tasks.append(
                Task(
                    part,
                    fused=len(part) > 1,
                    own_loop=own_loop or len(part) > 1,
                    channels_last=channels_last,
                )
            )
    tasks.sort(key=lambda t: -len(t.configs))  # stable: grid order within equal sizes
    return tasks, notes


def fusion_reason(cfg: RunConfig) -> str | None:
    """Why the seeds of ``cfg``'s variant cannot share one model (None if they can)."""
    from poolstride.experiment.batched import fusion_blocker
    from poolstride.experiment.runner import build, load_data

    try:
        return fusion_blocker(build(cfg, load_data(cfg)))
    except PoolstrideError:
        raise
    except Exception as err:  # noqa: BLE001 - a model that fails to build fails its runs later
        return f"model did not build: {type(err).__name__}"


def run_task(task: Task, on_progress: Callable[[int, int], None] | None = None) -> list[Any]:
    """Execute ``task`` in this process; one outcome per config, in order."""
    if task.fused or task.own_loop:
        from poolstride.experiment.batched import execute_batch

        return execute_batch(
            task.configs, channels_last=task.channels_last, on_progress=on_progress
        )
    from poolstride.experiment.runner import _run_safely

    return [_run_safely(cfg, on_progress) for cfg in task.configs]


def _init_worker(threads: int) -> None:
    torch.set_num_threads(threads)


def _lost(task: Task, err: BaseException) -> list[Any]:
    """Failed outcomes for every run of a task whose worker never returned."""
    from poolstride.experiment.runner import _Outcome
    from poolstride.experiment.store import utc_now

    lines = str(err).strip().splitlines()
    reason = f"worker lost: {type(err).__name__}" + (f": {lines[0]}" if lines else "")
    now = utc_now()
    return [_Outcome(c.key, None, reason, now, now) for c in task.configs]


def run_local_pool(
    tasks: Sequence[Task],
    workers: int,
    *,
    threads: int | None = None,
    max_retries: int = 2,
    runner: Callable[[Task], list[Any]] = run_task,
) -> Iterator[tuple[Task, list[Any]]]:
    """Run ``tasks`` on ``workers`` spawned processes; yield ``(task, outcomes)`` as each ends.

    A worker that dies (SIGKILL, OOM) breaks the pool: the tasks still pending are resubmitted
    to a fresh pool, each at most ``max_retries`` times, then reported failed.
    """
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
            initializer=_init_worker,
            initargs=(threads,),
        ) as pool:
            futures = {pool.submit(runner, t): t for t in pending}
            for fut in cf.as_completed(futures):
                task = futures[fut]
                try:
                    yield task, fut.result()
                except cf.process.BrokenProcessPool as err:
                    attempts[id(task)] += 1
                    if attempts[id(task)] > max_retries:
                        yield task, _lost(task, err)
                    else:
                        retry.append(task)
        pending = retry


def run_grid(
    configs: Sequence[RunConfig],
    store,
    *,
    workers: int | None = 1,
    backend: str = "local",
    address: str | None = None,
    batch_seeds: bool | None = None,
    channels_last: bool = False,
    threads: int | None = None,
    progress: bool = False,
    console=None,
    validate_first: bool = True,
    max_retries: int = 2,
) -> list:
    """Run every config not already finished in ``store`` on ``backend``; return all records.

    ``workers``: parallel tasks (``None``: one per core). ``backend``: ``local`` or ``ray``
    (``address``: a running Ray cluster, e.g. ``ray://host:10001`` or ``auto``; without one a
    local Ray instance on 127.0.0.1 is started and shut down). ``batch_seeds``: fuse the seeds
    of each variant into one model (``None``: in chunks that keep every worker busy, see
    :func:`plan`). ``threads``: torch threads per task (``None``: the fair
    share ``max(1, cores // workers)``; on a Ray cluster 1). Records come back in the order
    of ``configs``.
    """
    from poolstride.experiment.runner import _Progress, _record, validate

    if backend not in BACKENDS:
        raise unknown("backend", backend, BACKENDS)
    if address is not None and backend != "ray":
        raise PoolstrideError(f"--address {address!r} needs --backend ray")
    # on a Ray cluster, no --workers means "as many as the cluster has CPUs" (found there)
    cluster_wide = backend == "ray" and address is not None and workers is None
    workers = resolve_workers(workers)
    if validate_first:
        validate(configs)
    by_key = {c.key: c for c in configs}
    done = store.finished_keys()
    todo = [c for c in configs if c.key not in done]
    tasks, notes = plan(
        todo,
        batch_seeds=batch_seeds,
        channels_last=channels_last,
        workers=1 if backend == "local" and workers <= 1 else workers,
    )
    ui = _Progress(len(configs), len(configs) - len(todo), console) if progress else None
    if ui:
        for note in notes:
            ui.console.print(f"[yellow]note[/] {note}")

    def finish(outcomes: list[Any]) -> None:
        for outcome in outcomes:
            record = _record(by_key[outcome.key], outcome)
            store.put(record)
            if ui:
                ui.finish_run(record)

    try:
        if backend == "ray":
            from poolstride.experiment.ray_backend import run_ray

            for _task, outcomes in run_ray(
                tasks,
                workers=None if cluster_wide else workers,
                address=address,
                threads=threads,
                max_retries=max_retries,
            ):
                finish(outcomes)
        elif workers <= 1 or len(tasks) <= 1:
            saved = torch.get_num_threads()
            torch.set_num_threads(threads or threads_per_worker(workers))
            try:
                for task in tasks:
                    if ui:
                        ui.start_run(task.configs[0])
                    finish(run_task(task, ui.step if ui else None))
            finally:
                torch.set_num_threads(saved)
        else:
            for _task, outcomes in run_local_pool(
                tasks, workers, threads=threads, max_retries=max_retries
            ):
                finish(outcomes)
    finally:
        if ui:
            ui.stop()
    records = {r.key: r for r in store.all_runs()}
    return [records[c.key] for c in configs if c.key in records]


__all__ = [
    "BACKENDS",
    "Task",
    "cpu_count",
    "plan",
    "resolve_workers",
    "run_grid",
    "run_local_pool",
    "run_task",
    "chunk_sizes",
    "fused_chunk_size",
    "threads_per_worker",
]
