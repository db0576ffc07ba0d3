"""Results built from store records only: summaries, verdicts, display, files."""

import csv
import json

import pytest
from scipy import stats as sps

from poolstride.comparison import ComparisonResults
from poolstride.experiment.config import RunConfig
from poolstride.experiment.store import RunRecord


def rec(variant, seed, acc=None, status="finished", **extra):
    cfg = RunConfig(variant=variant, seed=seed)
    metrics = (
        {}
        if acc is None
        else {
            "test_acc": acc,
            "test_loss": 1 - acc,
            "params": 100,
            "macs": 2000,
            "train_time_s": 1.0,
            "shift_consistency_circular": 0.9,
            "shift_consistency_crop": 0.95,
            **extra,
        }
    )
    return RunRecord(
        cfg.key,
        status,
        cfg.to_dict(),
        metrics,
        reason="" if status == "finished" else "diverged: nan",
    )


MAX = [0.90, 0.92, 0.91, 0.93]
CONV = [0.85, 0.88, 0.86, 0.87]


def test_summary_and_verdicts_from_records():
    records = [rec("max", s, a) for s, a in enumerate(MAX)]
    records += [rec("conv", s, a) for s, a in enumerate(CONV)]
    res = ComparisonResults.from_records(records)
    assert res.variants == ("max", "conv") and res.baseline == "max"
    s = res.summary["conv"]["test_acc"]
    lo, hi = sps.t.interval(0.95, 3, loc=sum(CONV) / 4, scale=sps.sem(CONV))
    assert s.n == 4 and (s.lo, s.hi) == (pytest.approx(lo), pytest.approx(hi))
    (acc,) = [c for c in res.comparisons if c.metric == "test_acc"]
    assert acc.significant and acc.verdict.startswith("conv is 5.0 points less accurate than max")
    # zero-variance metrics: identical values -> p = 1, "no significant difference"
    (circ,) = [c for c in res.comparisons if c.metric == "shift_consistency_circular"]
    assert circ.paired.p == 1.0 and "no significant difference (p=1.00, n=4)" in circ.verdict
    text = str(res)
    assert "mean ± 95% CI over seeds (n=4); baseline: max" in text
    assert "-5.0*" in text  # the paired difference, starred as significant


def test_failed_runs_and_a_variant_with_nothing_finished():
    records = [
        rec("max", 0, 0.9),
        rec("max", 1, 0.91),
        rec("avg", 0, status="failed"),
        rec("avg", 1, status="failed"),
    ]
    res = ComparisonResults.from_records(records, ["max", "avg"])
    assert len(res.failed) == 2 and res.n_seeds("avg") == 0
    assert "cannot test with n=0" in res.verdicts_for("test_acc")[0]
    text = str(res)
    assert "failed" in text and "avg seed 1: diverged: nan" in text
    only_failed_baseline = ComparisonResults.from_records(records, ["avg", "max"])
    assert only_failed_baseline.comparisons == []  # nothing to compare against


def test_single_seed_shows_means_without_intervals():
    res = ComparisonResults.from_records([rec("max", 0, 0.9), rec("conv", 0, 0.8)])
    row = res.summary_rows()[1]
    assert row["n"] == 1 and row["test_acc_mean"] == 0.8
    assert "cannot test with n=1" in res.verdicts[0]
    assert " 80.0 " in str(res)  # bare mean, no "±"


def test_save_writes_json_and_csv(tmp_path):
    res = ComparisonResults.from_records(
        [rec("max", s, a) for s, a in enumerate(MAX)]
        + [rec("conv", s, a, curve={"step": [1]}) for s, a in enumerate(CONV)]
    )
    paths = res.save(tmp_path / "out")
    assert [p.name for p in paths] == ["results.json", "results.csv", "summary.csv"]
    data = json.loads(paths[0].read_text())
    assert data["verdicts"] == res.verdicts and len(data["runs"]) == 8
    rows = list(csv.DictReader(paths[1].open()))
    assert len(rows) == 8 and "curve" not in rows[0]  # only scalars in the CSV
    assert {r["variant"] for r in rows} == {"max", "conv"}
    summary = list(csv.DictReader(paths[2].open()))
    assert [r["variant"] for r in summary] == ["max", "conv"]
    assert float(summary[1]["test_acc_mean"]) == pytest.approx(sum(CONV) / 4)
