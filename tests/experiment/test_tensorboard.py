"""TensorBoardLogger writes readable event files; a missing package is one clear error."""

from __future__ import annotations

import builtins
import math

import numpy as np
import pytest
import torch

from poolstride.errors import PoolstrideError
from poolstride.experiment.tensorboard import INSTALL_HINT, TensorBoardLogger, run_log_dir

pytest.importorskip("tensorboard")


def _read_scalars(log_dir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(log_dir))
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def test_scalars_round_trip_through_event_files(tmp_path):
    with TensorBoardLogger(tmp_path / "tb") as log:
        for step in range(1, 4):
            written = log.log_scalars(
                step,
                {
                    "train/loss": 1.0 / step,
                    "train/lr": 0.003,
                    "test/acc": torch.tensor(0.25 * step),
                    "np": np.float32(2.5),
                },
            )
            assert written == 4
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))
    scalars = _read_scalars(tmp_path / "tb")
    assert [s for s, _ in scalars["train/loss"]] == [1, 2, 3]
    assert [v for _, v in scalars["train/loss"]] == pytest.approx([1.0, 0.5, 1 / 3])
    assert [v for _, v in scalars["test/acc"]] == pytest.approx([0.25, 0.5, 0.75])
    assert scalars["np"] == [(1, 2.5), (2, 2.5), (3, 2.5)]


def test_non_numbers_and_non_finite_values_are_skipped(tmp_path):
    log = TensorBoardLogger(tmp_path)
    assert (
        log.log_scalars(0, {"nan": math.nan, "inf": math.inf, "text": "x", "flag": True, "ok": 1})
        == 1
    )
    log.close()
    log.close()  # idempotent
    assert list(_read_scalars(tmp_path)) == ["ok"]
    with pytest.raises(PoolstrideError, match="closed"):
        log.log_scalars(1, {"ok": 1})


@pytest.mark.parametrize("step", [-1, 1.5, True, "3"])
def test_bad_step_is_a_one_line_error(tmp_path, step):
    with TensorBoardLogger(tmp_path) as log, pytest.raises(PoolstrideError, match="step must"):
        log.log_scalars(step, {"x": 1.0})


def test_missing_tensorboard_is_a_clear_error(tmp_path, monkeypatch):
    real_import = builtins.__import__

    def no_tensorboard(name, *args, **kwargs):
        if name == "tensorboard" or name.startswith("torch.utils.tensorboard"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tensorboard)
    with pytest.raises(PoolstrideError) as err:
        TensorBoardLogger(tmp_path / "tb")
    assert str(err.value) == INSTALL_HINT and "\n" not in INSTALL_HINT
    assert not (tmp_path / "tb").exists()


def test_run_log_dir_is_path_safe(tmp_path):
    assert (
        run_log_dir(tmp_path, "blur-max:filt5", 3)
        == tmp_path / "tensorboard" / "blur-max_filt5-seed3"
    )
    assert run_log_dir(tmp_path, "../../etc", 0).parent == tmp_path / "tensorboard"
