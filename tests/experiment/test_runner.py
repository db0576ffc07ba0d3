"""Runner, store integration, Results and the Python API on a tiny in-memory dataset."""

import json
import math

import pytest
import torch

from poolstride.comparison import ComparisonResults, compare
from poolstride.data import Dataset
from poolstride.errors import PoolstrideError
from poolstride.experiment import device, task
from poolstride.experiment.config import CompareConfig, make_config
from poolstride.experiment.grid import run_grid
from poolstride.experiment.results import Results
from poolstride.experiment.store import Store

TINY = dict(
    dataset="tiny",
    steps=12,
    batch_size=16,
    log_every=4,
    eval_points=2,
    width=4,
    shift_samples=40,
    max_shift=2,
)


def _tiny_dataset(n_train=64, n_test=40, length=16):
    g = torch.Generator().manual_seed(0)

    def split(n):
        y = torch.randint(0, 3, (n,), generator=g)
        x = 0.3 * torch.randn(n, 1, length, generator=g)
        for i, c in enumerate(y.tolist()):
            x[i, 0, c * 5 : c * 5 + 4] += 2.0
        return x, y

    (xtr, ytr), (xte, yte) = split(n_train), split(n_test)
    return Dataset("tiny", xtr, ytr, xte, yte, 3, (1, length), ("a", "b", "c"))


@pytest.fixture
def tiny(patch_runs):
    data = _tiny_dataset()
    patch_runs("load_data", lambda cfg: data)
    return data


def test_grid_runs_stores_and_resumes(tiny, tmp_path, monkeypatch):
    grid = CompareConfig(variants=("max", "conv"), seeds=2, device="cpu", **TINY)
    store = Store(tmp_path)
    records = run_grid(grid.runs(), store)
    assert [(r.variant, r.seed, r.status) for r in records] == [
        ("max", 0, "finished"),
        ("max", 1, "finished"),
        ("conv", 0, "finished"),
        ("conv", 1, "finished"),
    ]
    m = records[0].metrics
    for key in (
        "test_acc",
        "test_loss",
        "params",
        "macs",
        "train_time_s",
        "throughput_sps",
        "peak_memory_mb",
        "shift_consistency_circular",
        "shift_consistency_crop",
        "consistency_by_offset",
        "feature_stability",
        "grad_norm_init",
        "grad_norm_final",
        "curve",
        "step_ms",
        "step_config",
        "step_ms_by_config",
        "downsampling_kernels",
    ):
        assert key in m, key
    # 1D data: contiguous only; the max variant's pooling calls are listed, conv has none
    assert m["step_config"].startswith("contiguous, ") and len(m["step_ms_by_config"]) >= 1
    assert m["step_ms"] == min(m["step_ms_by_config"].values()) > 0
    assert m["downsampling_kernels"] and records[2].metrics["downsampling_kernels"] == []
    assert 0 <= m["test_acc"] <= 1 and m["steps"] == 12 and m["device"] == "cpu"
    assert m["consistency_by_offset"]["offsets"] == [-2, -1, 0, 1, 2]
    assert m["consistency_by_offset"]["circular"][2] == 1.0  # offset 0 never changes
    assert len(m["feature_stability"]) == 3  # the simple model's three downsampling sites
    assert set(m["grad_norm_init"]) == set(m["grad_norm_final"])
    assert m["curve"]["step"] == [4, 8, 12]
    assert records[0].git_hash is not None and records[0].torch_version == torch.__version__
    # parameters differ between a free pool and a strided conv; same seed -> same init path
    assert records[2].metrics["params"] > records[0].metrics["params"]

    # resume: the same grid again runs nothing
    monkeypatch.setattr(task, "execute", lambda *a, **k: pytest.fail("re-ran a finished run"))
    again = run_grid(grid.runs(), store)
    assert [r.metrics for r in again] == [r.metrics for r in records]


def test_runs_are_reproducible_per_seed(tiny):
    grid = CompareConfig(variants=("avg",), seeds=(3,), device="cpu", **TINY)
    a = task.execute(grid.runs()[0])
    b = task.execute(grid.runs()[0])
    assert a["curve"]["train_loss"] == b["curve"]["train_loss"]
    assert a["test_acc"] == b["test_acc"]


def test_a_diverging_run_is_failed_and_the_others_finish(tiny, tmp_path, monkeypatch, patch_runs):
    real_build = task.build

    def build(cfg, dataset):
        model = real_build(cfg, dataset)
        if cfg.variant == "conv" and cfg.seed == 1:
            model.register_forward_hook(lambda m, i, out: out * float("nan"))
        return model

    patch_runs("build", build)
    grid = CompareConfig(variants=("max", "conv"), seeds=2, device="cpu", **TINY)
    records = run_grid(grid.runs(), Store(tmp_path), validate_first=False)
    status = {(r.variant, r.seed): (r.status, r.reason) for r in records}
    assert status[("conv", 1)][0] == "failed"
    assert status[("conv", 1)][1].startswith("diverged: training loss became nan by step 4")
    assert sum(s == "finished" for s, _ in status.values()) == 3
    res = ComparisonResults.from_records(records, grid.variants, grid.baseline)
    assert res.summary["conv"]["test_acc"].n == 1 and len(res.failed) == 1
    assert res.untested == {"conv": 1} and "conv vs max: not tested (n=1" in res.verdicts[0]
    assert "failed: conv seed 1: diverged" in str(res)


def test_validation_fails_fast_before_any_training(tiny, monkeypatch):
    monkeypatch.setattr(task, "execute", lambda *a, **k: pytest.fail("trained"))
    with pytest.raises(PoolstrideError, match="unknown downsampling kind 'maxx'"):
        run_grid(CompareConfig(variants="max,maxx", **TINY).runs(), Store(":memory:"))
    too_deep = CompareConfig(variants="max", depth=6, **TINY)  # 16 -> 8 -> ... -> 0
    with pytest.raises(PoolstrideError) as err:
        run_grid(too_deep.runs(), Store(":memory:"))
    assert "\n" not in str(err.value) and "simple" in str(err.value)


def test_cuda_without_gpu_is_a_one_line_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(PoolstrideError, match="no CUDA GPU"):
        device.resolve_device("cuda")
    assert device.resolve_device("auto") == torch.device("cpu")


def test_compare_api_results_and_files(tiny, tmp_path):
    res = compare(
        variants=["max", "avg", "conv"],
        seeds=2,
        out=tmp_path / "run",
        device="cpu",
        **{k: v for k, v in TINY.items()},
    )
    assert isinstance(res, Results) and res.baseline == "max"
    assert len(res.records) == 6 and not res.failed
    assert [c.variant for c in res.comparisons if c.metric == "test_acc"] == ["avg", "conv"]
    assert all("n=2" in v for v in res.verdicts)
    for name in ("runs.sqlite", "results.json", "results.csv", "summary.csv", "config.yaml"):
        assert (tmp_path / "run" / name).is_file(), name
    data = json.loads((tmp_path / "run" / "results.json").read_text())
    assert data["baseline"] == "max" and len(data["runs"]) == 6
    assert data["summary"]["avg"]["test_acc"]["n"] == 2
    rows = (tmp_path / "run" / "summary.csv").read_text().splitlines()
    assert rows[0].startswith("variant,n,baseline,test_acc_verdict,test_acc_mean")
    assert len(rows) == 4
    html = res._repr_html_()
    assert "<table>" in html and "Baseline: max." in html
    text = str(res)
    assert "mean ± 95% CI over seeds (n=2)" in text and "Verdicts vs max" in text
    # the saved config.yaml reproduces the grid
    again = make_config(tmp_path / "run" / "config.yaml")
    assert [r.key for r in again.runs()] == [
        r.key
        for r in make_config(
            None,
            variants=["max", "avg", "conv"],
            seeds=2,
            out=str(tmp_path / "run"),
            device="cpu",
            **TINY,
        ).runs()
    ]


def test_results_to_pandas_when_available(tiny):
    pd = pytest.importorskip("pandas")
    res = compare(variants="max,conv", seeds=1, **TINY)
    frame = res.to_pandas()
    assert isinstance(frame, pd.DataFrame) and list(frame["variant"]) == ["max", "conv"]


def test_make_config_overrides_and_epochs():
    cfg = make_config({"variants": ["max"], "steps": 50}, lr=0.1, seeds=None)
    assert cfg.steps == 50 and cfg.lr == 0.1 and cfg.seeds == (0, 1, 2)
    assert make_config(None, epochs=2).steps is None
    assert math.isclose(make_config(None, lr=1e-4).lr, 1e-4)


def test_match_params_scales_the_variant_to_the_baseline_budget(tiny):
    grid = CompareConfig(
        variants=("max", "conv"), seeds=1, match="params", device="cpu", **{**TINY, "width": 24}
    )
    records = run_grid(grid.runs(), Store(":memory:"))
    base, conv = (r.metrics for r in records)
    assert base["width"] == 24 and conv["width"] == 19  # strided convs cost parameters
    assert abs(conv["params"] - base["params"]) <= 0.05 * base["params"]
    free = task.execute(
        CompareConfig(variants=("conv",), seeds=1, device="cpu", **{**TINY, "width": 24}).runs()[0]
    )
    assert free["params"] > 1.05 * base["params"]  # unmatched, conv would cost more


def _check_loop_usage(m, steps):
    assert m["train_user_s"] > 0 and m["train_system_s"] >= 0
    assert m["train_user_s"] + m["train_system_s"] <= 2 * m["train_cpu_s"] + 0.05
    assert 0 <= m["train_system_share"] <= 1
    assert isinstance(m["train_minor_faults"], int) and m["train_minor_faults"] >= 0
    assert m["allocator"] in ("retain", "default", "default (not glibc)")
    assert m["steps"] == steps


def test_runs_store_where_the_training_cpu_went(tiny):
    """Separate and seed-fused runs store the loop's user/system split, its faults and the
    allocator of the process that trained them."""
    grid = CompareConfig(variants=("max",), seeds=2, device="cpu", **TINY)
    separate = run_grid(grid.runs(), Store(":memory:"), batch_seeds=False)
    fused = run_grid(grid.runs(), Store(":memory:"), batch_seeds=True)
    for record in separate + fused:
        _check_loop_usage(record.metrics, TINY["steps"])
    assert fused[0].metrics["batched_seeds"] == 2
