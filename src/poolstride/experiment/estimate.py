"""The wall time of a grid, known before it starts: calibrate on this machine, then schedule.

Calibration (a few seconds) times what a run is made of, on the real data and models:

- the training loop of each task shape (a variant's model, seed-fused when the grid fuses
  its seeds): a few steps after two warm-up steps, ``b`` seconds per step — once with one
  torch thread and once with the fair share ``cores // workers`` when that is more than one
  (:func:`poolstride.experiment.cores.pick_threads` keeps the faster);
- the per-run work around the loop (gradient probes, evaluations, the final measurements
  and step timing): a real run of the first variant with ``eval_points`` steps, twice, its
  wall time minus its loop time; the second is ``a`` seconds (other variants scale it by
  their step cost), the first's extra is a process's one-off lazy loading;
- with a process pool, a trial of the pool (:func:`pool_trial`): as many fresh
  interpreters as workers, started at once, each importing poolstride, loading the dataset
  and timing the first task's loop side by side with the others. Their start (plus that
  one-off extra) delays every worker; their step time over the lone one is how much the
  workers slow each other down on this machine now (on a machine shared with other jobs,
  twice or more where a formula from the load average predicted 10%).

A task of ``S`` runs then takes ``S * a + steps * b`` (times that slowdown); tasks are dealt
to ``workers`` in the grid's order, each to the first free worker (as the pool does), and
the estimate is when the last one ends. Without a pool trial (one worker), workers asking for
more threads than there are free cores are slowed in proportion (:func:`contention`). Runs
already finished in the store are not planned, so a resumed grid is estimated for what is
left.
"""

from __future__ import annotations

import dataclasses
import heapq
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from poolstride.experiment.config import RunConfig
from poolstride.experiment.cores import ThreadChoice, cpu_count, load_average, pick_threads
from poolstride.experiment.device import resolve_device
from poolstride.experiment.seed_fusion import fuse_models, fusion_blocker, train_fused
from poolstride.experiment.task import Task, execute, step_kernels
from poolstride.experiment.train import total_steps, train
from poolstride.experiment.workload import build, load_data, tensors_on_device

#: the run directory's record of a grid's estimated and actual wall time (the report reads it)
TIMING_FILENAME = "timing.json"

#: seconds of timed training steps per task shape and thread count (after two warm-ups)
TIMING_SECONDS = 0.5
_WARMUP_STEPS = 2
_MIN_STEPS, _MAX_STEPS = 3, 20


@dataclass(frozen=True)
class Estimate:
    """The expected wall time of a grid on this machine, and what it was computed from.

    ``total_s``: from the first run's start to the last run's end; ``runs`` and ``tasks``
    still to train; ``run_s``: the mean time of one run's work (``sum of task times / runs``,
    not divided by the workers); ``threads``: the threads per worker and why;
    ``load``: the 1-minute load average during calibration; ``calibration_s``: what the
    calibration itself took; ``task_s``: each task's expected time, in grid order;
    ``loop_share``: the share of it in the training loop (the rest is the work around it),
    by task label — what the progress display counts a task's steps as; ``start_s``: when
    a pool's workers are ready; ``slowdown``: how much slower each worker runs than the
    lone calibration (measured with a pool, else :func:`contention`).
    """

    total_s: float
    runs: int
    tasks: int
    workers: int
    threads: ThreadChoice
    run_s: float
    load: float | None
    calibration_s: float
    task_s: list[float] = field(default_factory=list)
    loop_share: dict[str, float] = field(default_factory=dict)
    start_s: float = 0.0
    slowdown: float = 1.0

    def summary(self) -> str:
        """``"estimated 41 min; 8 runs × ~5 min on 2 workers × 1 thread"``."""
        if not self.runs:
            return "estimated 0 s: every run is already finished"
        return f"estimated {duration(self.total_s)}; {self.shape()}"

    def shape(self) -> str:
        """``"8 runs × ~5 min on 2 workers × 1 thread"``."""
        return (
            f"{self.runs} runs × ~{duration(self.run_s)} on {self.workers} "
            f"worker{'s' * (self.workers > 1)} × {self.threads.threads} "
            f"thread{'s' * (self.threads.threads > 1)}"
        )

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["threads"] = self.threads.to_dict()
        data["summary"] = self.summary()
        data["shape"] = self.shape()
        return data


def duration(seconds: float) -> str:
    """``42 s``, ``3.5 min``, ``1.2 h`` — a human-scale duration."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def estimate_grid(
    tasks: Sequence[Task],
    *,
    workers: int = 1,
    pool: bool = False,
    threads: int | None = None,
) -> Estimate:
    """Calibrate on ``tasks`` (as :func:`poolstride.experiment.grid.plan` cut them) and
    estimate their wall time on ``workers`` workers (``pool``: spawned processes, each
    importing poolstride and loading the data once). ``threads``: forced threads per worker
    (``--threads``); ``None`` measures 1 against ``cores // workers``. The global RNG is
    left as it was."""
    start = time.perf_counter()
    load = load_average()
    if not tasks:
        choice = pick_threads(lambda: 0.0, workers, threads or 1)
        return Estimate(0.0, 0, 0, workers, choice, 0.0, load, 0.0)
    with torch.random.fork_rng(devices=[]):
        first = tasks[0].configs[0]
        ds = load_data(first)
        shapes = {_shape(t): t for t in tasks}
        per_step: dict[int, dict[tuple, float]] = {}

        def time_all() -> float:
            n = torch.get_num_threads()
            per_step[n] = {key: loop_step_seconds(task) for key, task in shapes.items()}
            return sum(per_step[n].values())

        choice = pick_threads(time_all, workers, threads)
        saved = torch.get_num_threads()
        torch.set_num_threads(choice.threads)
        try:
            steps_s = per_step.get(choice.threads) or {
                k: loop_step_seconds(t) for k, t in shapes.items()
            }
            first_run_s = run_overhead(first)  # a process's first run: lazy loading too
            overhead_s = run_overhead(first)
        finally:
            torch.set_num_threads(saved)
    # a fresh worker imports, loads the data and pays its first run's lazy loading (numba's
    # cached kernels, torch's lazy init) once; in this process calibration paid them already
    first_extra_s = max(0.0, first_run_s - overhead_s)
    slots = min(workers, len(tasks)) if pool else 1
    slowdown = contention(slots, choice.threads, load or 0.0, cpu_count())
    start_s = 0.0
    if pool:  # measured in fresh workers side by side: their start, and their step time
        ready_s, pooled_step_s = pool_trial(tasks[0], slots, choice.threads)
        start_s = ready_s + first_extra_s
        if pooled_step_s > 0:
            slowdown = max(1.0, pooled_step_s / steps_s[_shape(tasks[0])])
    n_train = int(ds.x_train.shape[0])
    reference = steps_s[_shape(tasks[0])] / len(tasks[0].configs)  # per seed and step
    task_s, loop_share = [], {}
    for task in tasks:
        key = _shape(task)
        seeds = len(task.configs)
        around = overhead_s * (steps_s[key] / seeds) / reference if reference > 0 else overhead_s
        loop = total_steps(task.configs[0], n_train) * steps_s[key]
        task_s.append(seeds * around + loop)
        loop_share[task.label] = loop / task_s[-1] if task_s[-1] > 0 else 1.0
    total = makespan([s * slowdown for s in task_s], slots, start_s)
    runs = sum(len(t.configs) for t in tasks)
    return Estimate(
        total_s=total,
        runs=runs,
        tasks=len(tasks),
        workers=slots,
        threads=choice,
        run_s=slowdown * sum(task_s) / runs,
        load=load,
        calibration_s=time.perf_counter() - start,
        task_s=task_s,
        loop_share=loop_share,
        start_s=start_s,
        slowdown=slowdown,
    )


def contention(workers: int, threads: int, load: float, cores: int) -> float:
    """How much slower each of ``workers`` processes of ``threads`` threads runs than the
    one process calibration timed, on ``cores`` cores with ``load`` other runnable threads:
    ``max(1, (load + workers * threads) / cores) / max(1, (load + threads) / cores)``.
    ``(2, 1, 0, 2) -> 1``; ``(4, 1, 0, 2) -> 2``; ``(2, 1, 1, 2) -> 1.5``."""
    grid = max(1.0, (load + workers * threads) / cores)
    alone = max(1.0, (load + threads) / cores)
    return grid / alone


def makespan(task_s: Sequence[float], workers: int, start_s: float = 0.0) -> float:
    """When the last of ``task_s`` ends, each task taken in order by the first free of
    ``workers`` workers, every worker ready after ``start_s``. ``[3, 2, 2], 2 -> 4``."""
    free = [start_s] * max(1, workers)
    for seconds in task_s:
        heapq.heappush(free, heapq.heappop(free) + seconds)
    return max(free)


def _shape(task: Task) -> tuple:
    """What a task's step time depends on: its variant's config (not the seed), its seeds,
    and the loop it runs in."""
    base = dataclasses.replace(task.configs[0], seed=0)
    return (
        base,
        len(task.configs),
        task.fused,
        task.own_loop,
        task.channels_last,
        task.pooling_kernels,
    )


def loop_step_seconds(task: Task) -> float:
    """Seconds per step of ``task``'s training loop (its seeds fused as the task would):
    two warm-up steps, then as many as fit :data:`TIMING_SECONDS` (3 to 20), timed."""
    cfg = task.configs[0]
    device = resolve_device(cfg.device)
    ds = load_data(cfg)
    x_train, y_train, _, _ = tensors_on_device(str(device), ds)
    models = []
    for c in task.configs:
        torch.manual_seed(c.seed)
        models.append(build(c, ds).to(device))
    fused = len(models) > 1 and all(fusion_blocker(m) is None for m in models)
    with step_kernels(task):  # the pooling implementation the task trains with
        seconds = _loop_seconds(task, models, fused, x_train, y_train, _WARMUP_STEPS)
        steps = int(min(_MAX_STEPS, max(_MIN_STEPS, TIMING_SECONDS * _WARMUP_STEPS / seconds)))
        return _loop_seconds(task, models, fused, x_train, y_train, steps) / steps


def _loop_seconds(task: Task, models, fused: bool, x, y, steps: int) -> float:
    """Wall seconds of ``steps`` steps of the task's loop (evaluation left out)."""
    cfgs = [dataclasses.replace(c, steps=steps) for c in task.configs]
    if fused:
        model = fuse_models(models)
        if task.channels_last and x.ndim == 4:
            model = model.to(memory_format=torch.channels_last)
        results = train_fused(model, cfgs, x, y, channels_last=task.channels_last, amp=cfgs[0].amp)
        return sum(r.train_time_s for r in results)
    total = 0.0
    for cfg, model in zip(cfgs, models):
        if task.own_loop:
            if task.channels_last and x.ndim == 4:
                model = model.to(memory_format=torch.channels_last)
            (result,) = train_fused(
                model, [cfg], x, y, channels_last=task.channels_last, amp=cfg.amp
            )
        else:
            result = train(model, x, y, cfg)
        total += result.train_time_s
    return total


def run_overhead(cfg: RunConfig) -> float:
    """Seconds of one run outside its training loop: a real run of ``cfg`` with
    ``eval_points`` steps (so it evaluates as often as a full one), timed whole, minus its
    loop."""
    short = dataclasses.replace(cfg, steps=max(cfg.eval_points, _MIN_STEPS), tensorboard_dir=None)
    start = time.perf_counter()
    metrics = execute(short)
    wall = time.perf_counter() - start
    return max(0.0, wall - metrics["train_time_s"])


_WORKER = """
import json, sys, time
import torch
from poolstride.experiment.config import RunConfig
from poolstride.experiment.estimate import loop_step_seconds
from poolstride.experiment.task import Task
from poolstride.experiment.workload import load_data
task = json.loads(sys.argv[1])
torch.set_num_threads(task["threads"])
configs = tuple(RunConfig.from_dict(c) for c in task["configs"])
load_data(configs[0])
ready = time.time()
shape = {k: task[k] for k in ("fused", "own_loop", "channels_last", "pooling_kernels")}
print(json.dumps({"ready": ready, "step_s": loop_step_seconds(Task(configs, **shape))}))
"""


def pool_trial(task: Task, workers: int, threads: int) -> tuple[float, float]:
    """``(seconds until a worker is ready, seconds per step of task's loop)`` measured in
    ``workers`` fresh interpreters started at once, as the pool starts them: each imports
    poolstride, loads the dataset (then is "ready") and times the task's loop while the
    others time theirs, so the workers' contention with each other and with whatever else
    runs on the machine is in the numbers. Medians over the workers; ``(0, 0)`` if none
    reported (the grid then fails with its own message)."""
    payload = json.dumps(
        {
            "configs": [
                dataclasses.replace(c, tensorboard_dir=None).to_dict() for c in task.configs
            ],
            "fused": task.fused,
            "own_loop": task.own_loop,
            "channels_last": task.channels_last,
            "pooling_kernels": task.pooling_kernels,
            "threads": threads,
        }
    )
    launched = time.time()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, payload],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for _ in range(max(1, workers))
    ]
    ready, steps = [], []
    for proc in procs:
        out, _ = proc.communicate()
        try:
            report = json.loads(out.strip().splitlines()[-1])
            ready.append(report["ready"] - launched)
            steps.append(report["step_s"])
        except (ValueError, IndexError, KeyError):
            continue
    if not steps:
        return 0.0, 0.0
    return statistics.median(ready), statistics.median(steps)


def write_timing(run_dir: str | Path, estimate: Estimate, actual_s: float) -> Path:
    """Save ``RUN_DIR/timing.json``: the estimate made before the grid, and the grid's actual
    wall time (first run's start to last run's end, as the estimate counts it)."""
    path = Path(run_dir) / TIMING_FILENAME
    data = {"estimated_s": estimate.total_s, "actual_s": actual_s, "estimate": estimate.to_dict()}
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


def read_timing(run_dir: str | Path) -> dict[str, Any]:
    """``RUN_DIR/timing.json`` as a dict; ``{}`` when missing or unreadable."""
    path = Path(run_dir) / TIMING_FILENAME
    try:
        data = json.loads(path.read_text()) if path.is_file() else {}
    except (OSError, ValueError):
        return {}
    ok = isinstance(data, dict) and all(
        isinstance(data.get(k), (int, float)) for k in ("estimated_s", "actual_s")
    )
    return data if ok else {}
