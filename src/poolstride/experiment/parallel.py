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


def _device_is_cuda(cfg: RunConfig) -> bool:
    return cfg.device == "cuda" or (cfg.device == "auto" and torch.cuda.is_available())


def seed_batching_default(cfg: RunConfig) -> bool:
    """Fuse seeds by default only where it was measured to pay: on CUDA, where a step of a
    small CNN is launch-bound. On CPU the fused grouped convolutions cost more than separate
    ones (docs/speed.md has the numbers), so seeds run as separate tasks there."""
    return _device_is_cuda(cfg)


def plan(configs: Sequence[RunConfig], *, batch_seeds: bool | None = None,
         channels_last: bool = False) -> tuple[list[Task], list[str]]:
    """Cut ``configs`` into tasks; return them with notes for the user (why seeds of a
    variant were not fused). ``batch_seeds=None`` means :func:`seed_batching_default`.

    Configs that differ only in the seed form a group; a group is one fused task when
    batching is on and the model can be fused, else one task per run. Fused (longer) tasks
    come first so the pool's tail is short.
    """
    groups: dict[RunConfig, list[RunConfig]] = {}
    for cfg in configs:
        groups.setdefault(dataclasses.replace(cfg, seed=0), []).append(cfg)
    tasks: list[Task] = []
    notes: list[str] = []
    for base, members in groups.items():
        own_loop = channels_last or getattr(base, "amp", "none") != "none"
        want = seed_batching_default(base) if batch_seeds is None else batch_seeds
        reason = fusion_reason(base) if want and len(members) > 1 else None
        if want and len(members) > 1 and reason is None:
            tasks.append(Task(tuple(members), fused=True, own_loop=True,
                              channels_last=channels_last))
            continue
        if reason is not None:
            notes.append(f"{base.variant}: seeds trained separately ({reason})")
        tasks.extend(Task((c,), own_loop=own_loop, channels_last=channels_last)
                     for c in members)
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

        return execute_batch(task.configs, channels_last=task.channels_last,
                             on_progress=on_progress)
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


def run_local_pool(tasks: Sequence[Task], workers: int, *, max_retries: int = 2,
                   runner: Callable[[Task], list[Any]] = run_task
                   ) -> Iterator[tuple[Task, list[Any]]]:
    """Run ``tasks`` on ``workers`` spawned processes; yield ``(task, outcomes)`` as each ends.

    A worker that dies (SIGKILL, OOM) breaks the pool: the tasks still pending are resubmitted
    to a fresh pool, each at most ``max_retries`` times, then reported failed.
    """
    threads = threads_per_worker(workers)
    # spawn, not fork: forking a process whose OpenMP threads are running can deadlock
    ctx = multiprocessing.get_context("spawn")
    attempts = {id(t): 0 for t in tasks}
    pending = list(tasks)
    while pending:
        retry: list[Task] = []
        with cf.ProcessPoolExecutor(min(workers, len(pending)), mp_context=ctx,
                                    initializer=_init_worker, initargs=(threads,)) as pool:
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


def run_grid(configs: Sequence[RunConfig], store, *, workers: int | None = 1,
             backend: str = "local", address: str | None = None,
             batch_seeds: bool | None = None, channels_last: bool = False,
             progress: bool = False, console=None, validate_first: bool = True,
             max_retries: int = 2) -> list:
    """Run every config not already finished in ``store`` on ``backend``; return all records.

    ``workers``: parallel tasks (``None``: one per core). ``backend``: ``local`` or ``ray``
    (``address``: a running Ray cluster, e.g. ``ray://host:10001`` or ``auto``; without one a
    local Ray instance on 127.0.0.1 is started and shut down). ``batch_seeds``: fuse the seeds
    of each variant into one model (``None``: only where it pays, see
    :func:`seed_batching_default`). Records come back in the order of ``configs``.
    """
    from poolstride.experiment.runner import _Progress, _record, validate

    if backend not in BACKENDS:
        raise unknown("backend", backend, BACKENDS)
    if address is not None and backend != "ray":
        raise PoolstrideError(f"--address {address!r} needs --backend ray")
    workers = resolve_workers(workers)
    if validate_first:
        validate(configs)
    by_key = {c.key: c for c in configs}
    done = store.finished_keys()
    todo = [c for c in configs if c.key not in done]
    tasks, notes = plan(todo, batch_seeds=batch_seeds, channels_last=channels_last)
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

            for _task, outcomes in run_ray(tasks, workers=workers, address=address,
                                           max_retries=max_retries):
                finish(outcomes)
        elif workers <= 1 or len(tasks) <= 1:
            for task in tasks:
                if ui:
                    ui.start_run(task.configs[0])
                finish(run_task(task, ui.step if ui else None))
        else:
            for _task, outcomes in run_local_pool(tasks, workers, max_retries=max_retries):
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
    "seed_batching_default",
    "threads_per_worker",
]
