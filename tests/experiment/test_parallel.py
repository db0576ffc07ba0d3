"""Cutting a grid into tasks, local process pools (with a worker killed mid-task), and the
parent-only store writes."""

import os

import pytest
import torch
from digits_grid import DIGITS

from poolstride.errors import PoolstrideError
from poolstride.experiment import cores, local_backend, task
from poolstride.experiment import grid as grid_module
from poolstride.experiment.config import CompareConfig, RunConfig
from poolstride.experiment.cores import resolve_workers, threads_per_worker
from poolstride.experiment.grid import chunk_sizes, fused_chunk_size, plan, run_grid
from poolstride.experiment.local_backend import run_local_pool
from poolstride.experiment.store import Store
from poolstride.experiment.task import Task


def test_plan_fuses_the_seeds_of_each_variant_when_asked():
    grid = CompareConfig(variants=("max", "conv"), seeds=3, **DIGITS).runs()
    tasks, notes = plan(grid, batch_seeds=True)
    assert notes == []
    assert [(t.fused, [c.seed for c in t.configs]) for t in tasks] == [
        (True, [0, 1, 2]),
        (True, [0, 1, 2]),
    ]
    assert [t.configs[0].variant for t in tasks] == ["max", "conv"]
    tasks, _ = plan(grid, batch_seeds=False)
    assert [(t.fused, len(t.configs)) for t in tasks] == [(False, 1)] * 6
    assert [c for t in tasks for c in t.configs] == grid  # every run exactly once


@pytest.mark.parametrize(
    "groups, seeds, workers, size",
    [
        (5, 3, 2, 3),
        (5, 3, 1, 3),
        (5, 3, 5, 3),
        (5, 3, 6, 2),
        (2, 5, 16, 1),
        (1, 10, 4, 3),
        (3, 1, 2, 1),
    ],
)
def test_fused_chunks_keep_every_worker_busy(groups, seeds, workers, size):
    assert fused_chunk_size(groups, seeds, workers) == size
    chunks_per_group = -(-seeds // size)
    assert groups * chunks_per_group >= min(workers, groups * seeds)


@pytest.mark.parametrize(
    "groups, seeds, workers, sizes",
    [
        (5, 3, 2, [3, 3, 3, 3, 2]),
        (5, 3, 1, [3] * 5),
        (4, 3, 2, [3] * 4),
        (5, 3, 5, [3] * 5),
        (2, 5, 16, [1, 1]),
        (3, 4, 4, [2, 2, 2]),
    ],
)
def test_chunk_sizes_fuse_whole_variants_in_full_rounds(groups, seeds, workers, sizes):
    assert chunk_sizes(groups, seeds, workers) == sizes


def test_plan_default_chunks_seeds_by_workers():
    grid = CompareConfig(variants=("max", "avg"), seeds=3, **DIGITS).runs()
    tasks, _ = plan(grid, workers=4)  # 2 variants, 4 workers: chunks of 2 seeds
    assert [[c.seed for c in t.configs] for t in tasks] == [[0, 1], [0, 1], [2], [2]]
    assert [t.fused for t in tasks] == [True, True, False, False]
    assert sorted(c.key for t in tasks for c in t.configs) == sorted(c.key for c in grid)
    tasks, _ = plan(grid)  # one worker: whole variants
    assert [len(t.configs) for t in tasks] == [3, 3]


def test_plan_falls_back_to_separate_runs_and_says_why(monkeypatch):
    monkeypatch.setattr(
        grid_module,
        "fusion_reason",
        lambda cfg: "module 'x' (Foo) is odd" if cfg.variant == "avg" else None,
    )
    grid = CompareConfig(variants=("max", "avg"), seeds=2, **DIGITS).runs()
    tasks, notes = plan(grid, batch_seeds=True)
    assert notes == ["avg: seeds trained separately (module 'x' (Foo) is odd)"]
    assert [(t.configs[0].variant, len(t.configs)) for t in tasks] == [
        ("max", 2),
        ("avg", 1),
        ("avg", 1),
    ]


def test_gpu_options_route_single_runs_through_the_batched_loop():
    grid = CompareConfig(variants=("max",), seeds=1, **DIGITS).runs()
    (task,), _ = plan(grid, batch_seeds=False, channels_last=True)
    assert task.own_loop and task.channels_last and not task.fused


def test_workers_and_threads():
    assert resolve_workers(None) == cores.cpu_count() >= 1
    assert resolve_workers(3) == 3
    for bad in (0, -1, 1.5, True):
        with pytest.raises(PoolstrideError, match="workers must be a positive integer"):
            resolve_workers(bad)
    n = cores.cpu_count()
    assert threads_per_worker(1) == n
    assert threads_per_worker(n * 4) == 1
    assert threads_per_worker(2) == max(1, n // 2)


def test_bad_backend_options_are_one_line_errors():
    grid = CompareConfig(variants=("max",), seeds=1, **DIGITS).runs()
    with pytest.raises(PoolstrideError, match="unknown backend 'spark'.*local, ray"):
        run_grid(grid, Store(":memory:"), backend="spark")
    with pytest.raises(PoolstrideError, match="needs --backend ray"):
        run_grid(grid, Store(":memory:"), address="127.0.0.1:6379")


def test_serial_batched_grid_resumes_without_rerunning(tmp_path, monkeypatch):
    grid = CompareConfig(variants=("max", "avg"), seeds=2, **DIGITS).runs()
    store = Store(tmp_path)
    records = run_grid(grid, store, workers=1, batch_seeds=True)
    assert [(r.variant, r.seed, r.status) for r in records] == [
        ("max", 0, "finished"),
        ("max", 1, "finished"),
        ("avg", 0, "finished"),
        ("avg", 1, "finished"),
    ]
    assert {r.metrics["batched_seeds"] for r in records} == {2}
    # seeds fused or not: the same runs (same init, data order) -> the same test accuracy
    alone = task.execute(grid[1])
    assert records[1].metrics["test_acc"] == alone["test_acc"]
    monkeypatch.setattr(local_backend, "run_task", lambda *a, **k: pytest.fail("re-ran a run"))
    again = run_grid(grid, store, workers=1, batch_seeds=True)
    assert [r.finished_at for r in again] == [r.finished_at for r in records]
    assert len(store) == 4


@pytest.mark.slow
def test_process_pool_gives_the_serial_results(tmp_path):
    grid = CompareConfig(variants=("max", "conv"), seeds=2, **DIGITS).runs()
    pooled = run_grid(grid, Store(tmp_path / "pool"), workers=2, batch_seeds=False)
    serial = run_grid(grid, Store(tmp_path / "serial"), workers=1, batch_seeds=False)
    assert [r.status for r in pooled] == ["finished"] * 4
    assert [r.key for r in pooled] == [c.key for c in grid]
    for p, s in zip(pooled, serial):
        assert p.metrics["test_acc"] == s.metrics["test_acc"]
        assert p.metrics["curve"]["train_loss"] == pytest.approx(
            s.metrics["curve"]["train_loss"], rel=1e-5
        )


# -- a worker process lost mid-task ---------------------------------------------------
def _die_once_then_report(task):
    """Kill this worker process the first time a task runs; report threads afterwards."""
    marker = os.path.join(os.environ["PS_TEST_DIR"], f"seen-{task}")
    if not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(1)  # like the OOM killer: no exception, no cleanup
    return [task, torch.get_num_threads()]


def _always_die(task):
    os._exit(1)


@pytest.mark.slow
def test_a_lost_worker_is_retried_then_reported(tmp_path, monkeypatch):
    monkeypatch.setenv("PS_TEST_DIR", str(tmp_path))
    tasks = ["a", "b", "c"]
    got = dict(run_local_pool(tasks, 2, runner=_die_once_then_report, max_retries=3))
    assert {k: v[0] for k, v in got.items()} == {"a": "a", "b": "b", "c": "c"}
    assert {v[1] for v in got.values()} == {threads_per_worker(2)}

    task = Task((RunConfig(seed=0), RunConfig(seed=1)))
    ((done_task, outcomes),) = run_local_pool([task], 1, runner=_always_die, max_retries=1)
    assert done_task is task and [o.metrics for o in outcomes] == [None, None]
    assert outcomes[0].reason.startswith("worker lost: BrokenProcessPool")
