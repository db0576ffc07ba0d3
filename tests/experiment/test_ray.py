"""The Ray backend on a real local Ray instance (loopback only, 2 CPUs, no dashboard)."""

import os

import pytest
from digits_grid import DIGITS

from poolstride.experiment.config import CompareConfig, RunConfig
from poolstride.experiment.grid import run_grid
from poolstride.experiment.store import Store
from poolstride.experiment.task import Task

ray = pytest.importorskip("ray")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def local_ray():
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        configure_logging=False,
        _node_ip_address="127.0.0.1",
    )
    yield ray
    ray.shutdown()


def test_ray_grid_lands_in_the_store_like_a_local_one(local_ray, tmp_path):
    grid = CompareConfig(variants=("max", "conv"), seeds=2, **DIGITS).runs()
    store = Store(tmp_path / "ray")
    records = run_grid(grid, store, workers=2, backend="ray", batch_seeds=True)
    assert [(r.variant, r.seed, r.status) for r in records] == [
        ("max", 0, "finished"),
        ("max", 1, "finished"),
        ("conv", 0, "finished"),
        ("conv", 1, "finished"),
    ]
    assert len(store) == 4
    local = run_grid(grid, Store(tmp_path / "local"), workers=1, batch_seeds=True)
    assert [r.metrics["test_acc"] for r in records] == [r.metrics["test_acc"] for r in local]
    # resume: nothing left to run, so nothing is submitted
    again = run_grid(grid, store, workers=2, backend="ray", batch_seeds=True)
    assert [r.finished_at for r in again] == [r.finished_at for r in records]


def test_a_worker_lost_mid_task_is_retried_by_ray(local_ray, tmp_path):
    from poolstride.experiment.ray_backend import run_ray

    marker = str(tmp_path / "died-once")

    def die_once(task):  # a closure: Ray ships it by value to the worker
        if not os.path.exists(marker):
            open(marker, "w").close()
            os._exit(1)  # the worker process vanishes, as with the OOM killer
        return f"done {task}"

    assert list(run_ray(["t"], workers=1, runner=die_once, max_retries=2)) == [("t", "done t")]
    assert os.path.exists(marker)


def test_a_task_whose_worker_always_dies_fails_its_runs(local_ray):
    from poolstride.experiment.ray_backend import run_ray

    def always_die(task):
        os._exit(1)

    task = Task((RunConfig(seed=0), RunConfig(seed=1)))
    ((got_task, outcomes),) = run_ray([task], workers=1, runner=always_die, max_retries=0)
    assert got_task is task
    assert [o.metrics for o in outcomes] == [None, None]
    assert all(o.reason.startswith("worker lost: WorkerCrashedError") for o in outcomes)
