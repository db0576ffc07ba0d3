"""TensorBoard gets each run's hyperparameters and every final metric (add_hparams), read back
from the event files with TensorBoard's own EventAccumulator."""

from __future__ import annotations

import math

import pytest
import torch

from poolstride.data import Dataset
from poolstride.experiment import task
from poolstride.experiment.config import CompareConfig
from poolstride.experiment.tensorboard import TensorBoardLogger, log_final, run_log_dir

pytest.importorskip("tensorboard")


def _events(log_dir):
    """(scalars {tag: [(step, value)]}, hparams {name: value}) of a run's directory."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData

    acc = EventAccumulator(str(log_dir))
    acc.Reload()
    scalars = {t: [(e.step, e.value) for e in acc.Scalars(t)] for t in acc.Tags()["scalars"]}
    content = acc.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    info = HParamsPluginData.FromString(content).session_start_info
    hparams = {}
    for name, value in info.hparams.items():
        kind = value.WhichOneof("kind")
        hparams[name] = getattr(value, kind)
    return scalars, hparams


def test_log_hparams_round_trip(tmp_path):
    with TensorBoardLogger(tmp_path / "run") as log:
        written = log.log_hparams(
            {"variant": "max", "lr": 0.003, "seed": 2, "width": None, "seeds": (0, 1)},
            {"test_acc": 0.75, "macs": 1234, "loss": math.nan, "name": "x", "fused": True},
            step=40,
        )
    assert written == 2  # NaN, text and bools are not metrics
    scalars, hparams = _events(tmp_path / "run")
    assert scalars["final/test_acc"] == [(40, 0.75)]
    assert scalars["final/macs"] == [(40, 1234.0)]
    assert hparams["variant"] == "max" and hparams["width"] == "none"
    assert hparams["lr"] == pytest.approx(0.003) and hparams["seeds"] == "(0, 1)"


def _tiny(length=16):
    g = torch.Generator().manual_seed(0)

    def split(n):
        y = torch.randint(0, 3, (n,), generator=g)
        x = 0.3 * torch.randn(n, 1, length, generator=g)
        for i, c in enumerate(y.tolist()):
            x[i, 0, c * 5 : c * 5 + 4] += 2.0
        return x, y

    (xtr, ytr), (xte, yte) = split(64), split(40)
    return Dataset("tiny", xtr, ytr, xte, yte, 3, (1, length), ("a", "b", "c"))


@pytest.mark.parametrize("fused", [False, True])
def test_a_finished_run_logs_its_config_and_final_metrics(tmp_path, patch_runs, fused):
    data = _tiny()
    patch_runs("load_data", lambda cfg: data)
    grid = CompareConfig(
        dataset="tiny",
        variants=("max",),
        seeds=(0, 1),
        steps=8,
        batch_size=16,
        log_every=4,
        eval_points=2,
        width=4,
        shift_samples=40,
        max_shift=2,
        device="cpu",
        out=str(tmp_path),
        tensorboard=True,
    )
    configs = tuple(grid.runs())
    outcomes = task.run_task(task.Task(configs, fused=fused))
    for cfg, outcome in zip(configs, outcomes):
        assert outcome.metrics is not None, outcome.reason
        scalars, hparams = _events(run_log_dir(tmp_path, cfg.variant, cfg.seed))
        for name in ("test_acc", "params", "macs", "shift_consistency_circular"):
            assert scalars[f"final/{name}"] == [(8, pytest.approx(outcome.metrics[name]))]
        assert "train/loss" in scalars or any(t.startswith("train") for t in scalars)
        assert hparams["variant"] == "max" and hparams["seed"] == cfg.seed
        assert hparams["steps"] == 8


def test_failed_runs_and_runs_without_tensorboard_log_nothing(tmp_path):
    cfg = CompareConfig(dataset="tiny", variants=("max",), seeds=(0,), out=str(tmp_path))
    run = cfg.runs()[0]
    log_final(run, {"test_acc": 1.0})  # no --tensorboard
    assert not (tmp_path / "tensorboard").exists()
    logged = CompareConfig(
        dataset="tiny", variants=("max",), seeds=(0,), out=str(tmp_path), tensorboard=True
    ).runs()[0]
    log_final(logged, None)  # a failed run
    assert not (tmp_path / "tensorboard").exists()
