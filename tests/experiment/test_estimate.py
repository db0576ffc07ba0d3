"""The grid's wall time before it starts: calibration on real tiny runs, then scheduling."""

import json

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from poolstride.experiment.config import CompareConfig
from poolstride.experiment.estimate import (
    Estimate,
    contention,
    duration,
    estimate_grid,
    makespan,
    read_timing,
    write_timing,
)
from poolstride.experiment.grid import plan

TINY = dict(dataset="digits", variants=["max", "conv"], seeds=2, steps=20, batch_size=32, width=4)


def test_makespan_deals_tasks_in_order_to_the_first_free_worker():
    assert makespan([3, 2, 2], 2) == 4
    assert makespan([3, 2, 2], 1) == 7
    assert makespan([5], 4, start_s=2) == 7
    assert makespan([], 2, start_s=1) == 1


@given(
    st.lists(st.floats(0, 100, allow_nan=False), min_size=1, max_size=20),
    st.integers(1, 8),
)
def test_makespan_lies_between_the_ideal_split_and_list_scheduling_bound(tasks, workers):
    span = makespan(tasks, workers)
    ideal = max(max(tasks), sum(tasks) / workers)
    assert ideal - 1e-9 <= span <= sum(tasks) / workers + max(tasks) + 1e-9


@pytest.mark.parametrize(
    "workers, threads, load, cores, slower",
    [(2, 1, 0, 2, 1), (4, 1, 0, 2, 2), (2, 1, 1, 2, 1.5), (1, 2, 0, 2, 1), (2, 1, 10, 2, 12 / 11)],
)
def test_workers_beyond_the_free_cores_slow_each_other(workers, threads, load, cores, slower):
    assert contention(workers, threads, load, cores) == pytest.approx(slower)


@pytest.mark.parametrize(
    "seconds, text", [(42, "42 s"), (150, "2.5 min"), (2460, "41.0 min"), (9000, "2.5 h")]
)
def test_durations_read_at_human_scale(seconds, text):
    assert duration(seconds) == text


def test_a_tiny_grid_is_calibrated_on_real_steps_and_scheduled():
    cfg = CompareConfig(**TINY)
    tasks, _ = plan(cfg.runs(), batch_seeds=False)
    rng = torch.get_rng_state()
    est = estimate_grid(tasks, workers=1, threads=1)
    assert torch.equal(torch.get_rng_state(), rng)  # calibration leaves the global RNG alone
    assert (est.runs, est.tasks, est.workers) == (4, 4, 1)
    assert len(est.task_s) == 4 and all(s > 0 for s in est.task_s)
    assert est.total_s == pytest.approx(sum(est.task_s))  # one worker: one after another
    assert set(est.loop_share) == {t.label for t in tasks}
    assert all(0 < share < 1 for share in est.loop_share.values())  # the loop, then measures
    assert est.threads.threads == 1 and "--threads" in est.threads.reason
    assert est.summary().startswith("estimated ") and "4 runs × ~" in est.summary()
    assert json.loads(json.dumps(est.to_dict()))["summary"] == est.summary()


def test_fused_tasks_and_workers_shape_the_schedule():
    cfg = CompareConfig(**TINY)
    tasks, _ = plan(cfg.runs(), batch_seeds=True)
    est = estimate_grid(tasks, workers=2, pool=True, threads=1)
    assert (est.runs, est.tasks, est.workers) == (4, 2, 2)
    # a trial pool measured the workers' start (fresh interpreters, the data) and how much
    # two side by side slow each other: both delay the end
    assert est.start_s > 0 and est.slowdown >= 1
    assert est.total_s == pytest.approx(est.start_s + est.slowdown * max(est.task_s))


def test_nothing_left_to_run_is_estimated_at_zero():
    est = estimate_grid([], workers=2)
    assert est.total_s == 0 and est.runs == 0 and "already finished" in est.summary()


def test_timing_is_saved_beside_the_runs_and_read_back(tmp_path):
    est = Estimate(60.0, 4, 2, 2, estimate_grid([], threads=1).threads, 15.0, 0.5, 3.0)
    write_timing(tmp_path, est, 75.0)
    timing = read_timing(tmp_path)
    assert timing["estimated_s"] == 60.0 and timing["actual_s"] == 75.0
    assert timing["estimate"]["summary"] == est.summary()
    (tmp_path / "timing.json").write_text("{not json")
    assert read_timing(tmp_path) == {}
    assert read_timing(tmp_path / "missing") == {}
