"""A grid of runs: validate it, plan it into tasks, resume it, run it, store it.

:func:`run_grid` first builds every (model, variant) pair once and pushes two test inputs
through it, so an unknown name or an input too small for the network fails in seconds with
one line, before any training (:func:`validate`); then it skips runs whose key is already
finished in the store (resume: a grid interrupted at any point, even by SIGKILL, trains only
what is missing when run again), cuts the rest into tasks (:func:`plan`: each variant's
seeds fused into one model where possible) and hands them to a backend:

- ``local`` with one worker: this process, one task after another;
- ``local`` with ``workers > 1``: a pool of spawned processes (``local_backend``);
- ``ray``: Ray tasks on a cluster or a local Ray instance (``ray_backend``).

Outcomes come back to this process, which alone writes the store, one row per run, as
each task ends. A run whose loss diverges (or that raises) is stored as ``failed`` with its
reason; the others carry on.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import platform
from collections.abc import Sequence

import torch

from poolstride._version import __version__
from poolstride.errors import PoolstrideError, unknown
from poolstride.experiment import allocator as alloc
from poolstride.experiment.config import BACKENDS, RunConfig
from poolstride.experiment.cores import (
    cpu_count,
    load_average,
    resolve_workers,
    threads_per_worker,
)
from poolstride.experiment.device import resolve_device
from poolstride.experiment.local_backend import run_in_process, run_local_pool
from poolstride.experiment.progress import DEFAULT_EVERY, StepReporter, drain, grid_progress
from poolstride.experiment.ray_backend import run_ray
from poolstride.experiment.seed_fusion import fusion_blocker
from poolstride.experiment.step_choice import choose_step, default_step
from poolstride.experiment.store import RunRecord, Store, git_hash
from poolstride.experiment.task import Outcome, Task, one_line, run_task
from poolstride.experiment.workload import build, load_data


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
    autotune: bool = False,
    threads: int = 1,
) -> tuple[list[Task], list[str]]:
    """Cut ``configs`` into tasks; return them with notes for the user (why seeds of a
    variant were not fused).

    Configs that differ only in the seed form a group. ``batch_seeds=True`` fuses each
    group into one task; ``None`` (the default) fuses in chunks (:func:`chunk_sizes`) that
    keep ``workers`` processes busy to the end; ``False`` gives one task per run. Groups whose model cannot be fused run one task per run, with a note.
    Fused (longer) tasks come first so the pool's tail is short.

    ``autotune``: each variant trains in the configuration (memory format, pooling kernels)
    its step was measured fastest in, timed with ``threads`` torch threads
    (:func:`~poolstride.experiment.step_choice.choose_step`); else contiguous, or
    channels-last when ``channels_last``, with the process's kernels.
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
        step = (
            choose_step(base, channels_last=channels_last, threads=threads)
            if autotune
            else default_step(channels_last)
        )
        own_loop = step.channels_last or base.amp != "none"
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
                    channels_last=step.channels_last,
                    pooling_kernels=step.pooling_kernels,
                    step_config=step.config,
                    step_reason=step.reason,
                )
            )
    tasks.sort(key=lambda t: -len(t.configs))  # stable: grid order within equal sizes
    return tasks, notes


def fusion_reason(cfg: RunConfig) -> str | None:
    """Why the seeds of ``cfg``'s variant cannot share one model (None if they can)."""
    try:
        return fusion_blocker(build(cfg, load_data(cfg)))
    except PoolstrideError:
        raise
    except Exception as err:  # noqa: BLE001 - a model that fails to build fails its runs later
        return f"model did not build: {type(err).__name__}"


def validate(configs: Sequence[RunConfig]) -> None:
    """Fail fast with one line: load each dataset and build + run each distinct model once."""
    seen: set[tuple] = set()
    for cfg in configs:
        resolve_device(cfg.device)
        ds = load_data(cfg)
        sig = (
            cfg.dataset,
            cfg.data_dir,
            cfg.train_size,
            cfg.model,
            cfg.variant,
            cfg.head,
            cfg.width,
            cfg.depth,
            cfg.match,
            cfg.match_reference,
        )
        if sig in seen:
            continue
        seen.add(sig)
        try:
            model = build(cfg, ds)
            model.eval()
            with torch.no_grad():
                out = model(ds.x_test[:2])
        except PoolstrideError:
            raise
        except (RuntimeError, ValueError, TypeError, IndexError) as err:
            raise PoolstrideError(
                f"model {cfg.model!r} with variant {cfg.variant!r} cannot run on {cfg.dataset} "
                f"inputs of shape {tuple(ds.input_shape)}: {one_line(err)}"
            ) from None
        if out.shape != (min(2, ds.test_size), ds.num_classes):
            raise PoolstrideError(
                f"model {cfg.model!r} with variant {cfg.variant!r} returned shape "
                f"{tuple(out.shape)}, expected (N, {ds.num_classes})"
            )


def record_of(cfg: RunConfig, outcome: Outcome, threads_choice: str | None = None) -> RunRecord:
    """The store row of one run's outcome, with its provenance: a finished run's metrics
    also get ``load_avg`` (the machine's 1-minute load average as it ended) and ``cores``
    (beside ``threads``, so its timings can be explained) and ``threads_choice`` (why that
    many threads)."""
    metrics = outcome.metrics or {}
    if outcome.metrics is not None:
        metrics = {**metrics, "load_avg": load_average(), "cores": cpu_count()}
        if threads_choice is not None:
            metrics["threads_choice"] = threads_choice
    return RunRecord(
        key=cfg.key,
        status="finished" if outcome.metrics is not None else "failed",
        config=cfg.to_dict(),
        metrics=metrics,
        reason=outcome.reason,
        poolstride_version=__version__,
        torch_version=torch.__version__,
        git_hash=git_hash(),
        device=str(metrics.get("device", cfg.device)),
        started_at=outcome.started_at,
        finished_at=outcome.finished_at,
    )


def run_grid(
    configs: Sequence[RunConfig],
    store: Store,
    *,
    workers: int | None = 1,
    backend: str = "local",
    address: str | None = None,
    batch_seeds: bool | None = None,
    channels_last: bool = False,
    threads: int | None = 1,
    progress: bool = False,
    console=None,
    validate_first: bool = True,
    max_retries: int = 2,
    allocator: str = "retain",
    progress_every: float = DEFAULT_EVERY,
    estimate_s: float | None = None,
    loop_share: dict[str, float] | None = None,
    threads_choice: str | None = None,
    autotune: bool = False,
) -> list[RunRecord]:
    """Run every config not already finished in ``store`` on ``backend``; return all records.

    ``workers``: parallel tasks (``None``: one per core). ``backend``: ``local`` or ``ray``
    (``address``: a running Ray cluster, e.g. ``ray://host:10001`` or ``auto``; without one a
    local Ray instance on 127.0.0.1 is started and shut down). ``batch_seeds``: fuse the seeds
    of each variant into one model (``None``: in chunks that keep every worker busy, see
    :func:`plan`). ``threads``: torch threads per task, 1 by default, because these small
    models are dominated by per-op overhead, where extra intra-op threads mostly wait on each
    other (measured: 2 threads on a busy 2-core machine made a step 10-40x slower); ``None``:
    the fair share ``max(1, cores // workers)`` (on a Ray cluster 1). Records come back in
    the order of ``configs``. ``allocator``: ``retain`` or ``default``, set in every process
    that trains (:mod:`poolstride.experiment.allocator`; ``$POOLSTRIDE_ALLOCATOR=default``
    overrides it). ``progress``: rich bars in a terminal, else a plain line every
    ``progress_every`` seconds (:mod:`poolstride.experiment.progress`; ``estimate_s``, the
    expected wall time, gives the first ETA; ``loop_share``, by task label, the part of a
    task's time in its training loop). ``threads_choice``: why ``threads`` (stored
    with each run). ``autotune``: train each variant in the configuration its step is
    fastest in (see :func:`plan`; recorded with each run, not part of its key).
    """
    if backend not in BACKENDS:
        raise unknown("backend", backend, BACKENDS)
    if address is not None and backend != "ray":
        raise PoolstrideError(f"--address {address!r} needs --backend ray")
    # on a Ray cluster, no --workers means "as many as the cluster has CPUs" (found there)
    cluster_wide = backend == "ray" and address is not None and workers is None
    workers = resolve_workers(workers)
    allocator = alloc.choice(allocator)  # the parent's environment decides, for every worker
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
        autotune=autotune,
        threads=threads or threads_per_worker(workers),
    )
    ui = None
    if progress:
        ui = grid_progress(
            len(configs),
            len(configs) - len(todo),
            console,
            every=progress_every,
            estimate_s=estimate_s,
            loop_share=loop_share,
        )
    if ui:
        for note in notes:
            ui.console.print(f"[yellow]note[/] {note}")

    def finish(task: Task, outcomes: list[Outcome]) -> None:
        if ui:
            ui.finish_task(task)
        for outcome in outcomes:
            record = record_of(by_key[outcome.key], outcome, threads_choice)
            store.put(record)
            if ui:
                ui.finish_run(record)

    reports = None  # pool workers' step reports, for the progress display

    try:
        if backend == "ray":
            for _task, outcomes in run_ray(
                tasks,
                workers=None if cluster_wide else workers,
                address=address,
                threads=threads,
                max_retries=max_retries,
                allocator=allocator,
            ):
                finish(_task, outcomes)
        elif workers <= 1 or len(tasks) <= 1:
            for _task, outcomes in run_in_process(
                tasks,
                threads=threads or threads_per_worker(workers),
                on_start=ui.start_task if ui else None,
                on_progress=ui.step if ui else None,
                allocator=allocator,
            ):
                finish(_task, outcomes)
        else:
            runner = run_task
            if ui:  # workers report their steps through a queue the parent drains
                reports = multiprocessing.get_context("spawn").Manager()
                queue = reports.Queue()
                runner = StepReporter(queue)
                drainer = drain(queue, ui)
            for _task, outcomes in run_local_pool(
                tasks,
                workers,
                threads=threads,
                max_retries=max_retries,
                allocator=allocator,
                runner=runner,
            ):
                finish(_task, outcomes)
    finally:
        if reports is not None:
            queue.put(None)
            drainer.join(timeout=5)
            reports.shutdown()
        if ui:
            ui.stop()
    records = {r.key: r for r in store.all_runs()}
    return [records[c.key] for c in configs if c.key in records]


def environment() -> dict[str, str]:
    """Where results came from (printed with them)."""
    return {
        "poolstride": __version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "git": git_hash(),
        "threads": str(torch.get_num_threads()),
    }
