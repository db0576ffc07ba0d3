"""One identity per result: the execution is recorded, a mixed summary says so, and
``--deterministic`` gives one execution whatever the schedule."""

import pytest
import torch

from poolstride.errors import PoolstrideError
from poolstride.experiment.config import CompareConfig, RunConfig
from poolstride.experiment.store import RunRecord, execution_of, mixed_execution_note
from poolstride.experiment.task import deterministic_mode


def _run(seed, **metrics):
    cfg = RunConfig(seed=seed)
    return RunRecord(cfg.key, "finished", cfg.to_dict(), {"test_acc": 0.9, **metrics})


def test_execution_is_read_from_the_stored_metrics():
    assert execution_of(_run(0, batched_seeds=3, threads=2)) == "seed-fused, 2 threads"
    assert execution_of(_run(0, batched_seeds=1, threads=1, deterministic=True)) == (
        "separate, 1 thread, deterministic"
    )
    assert execution_of(_run(0)) == "separate, threads ?"  # stored before it was recorded


def test_a_summary_that_mixes_executions_says_so():
    same = [_run(0, batched_seeds=1, threads=1), _run(1, batched_seeds=1, threads=1)]
    assert mixed_execution_note(same) is None
    mixed = [*same, _run(2, batched_seeds=3, threads=1)]
    note = mixed_execution_note(mixed)
    assert "2 run(s) separate, 1 thread" in note and "1 run(s) seed-fused, 1 thread" in note
    assert "--deterministic" in note and "\n" not in note
    failed = RunRecord("x", "failed", RunConfig().to_dict(), {"batched_seeds": 3})
    assert mixed_execution_note([*same, failed]) is None  # only finished runs count


def test_deterministic_means_separate_seeds_and_one_thread_and_keeps_the_key():
    cfg = CompareConfig(variants="max", seeds=2, deterministic=True)
    assert (cfg.batch_seeds, cfg.threads) == (False, 1)
    run = cfg.runs()[0]
    assert run.deterministic and run.key == RunConfig(variant="max", seed=0).key
    with pytest.raises(PoolstrideError, match="drop --batch-seeds"):
        CompareConfig(deterministic=True, batch_seeds=True)
    with pytest.raises(PoolstrideError, match="one thread per run"):
        CompareConfig(deterministic=True, threads=4)


def test_deterministic_mode_is_set_and_restored():
    before = torch.are_deterministic_algorithms_enabled()
    with deterministic_mode(True):
        assert torch.are_deterministic_algorithms_enabled()
        assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
    assert torch.are_deterministic_algorithms_enabled() == before
    with deterministic_mode(False):
        assert torch.are_deterministic_algorithms_enabled() == before


def test_deterministic_is_a_compare_option():
    from poolstride.cli.compare import compare

    flags = {opt for p in compare.params for opt in p.opts}
    assert "--deterministic" in flags
