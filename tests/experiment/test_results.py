"""Results built from store records only: summaries, verdicts, display, files."""

import csv
import html
import json
import re

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
    assert acc.significant
    assert acc.verdict.startswith("conv is worse than max: 5.0 points less accurate")
    v = res.verdict("conv")
    assert v.kind == "worse" and v.n == 4 and v.margin == 0.005 and v.p_adj < 0.05
    # zero-variance metrics: identical values -> p = 1 and TOST: equivalent within ±0.5
    (circ,) = [c for c in res.comparisons if c.metric == "shift_consistency_circular"]
    assert circ.paired.p == 1.0
    assert circ.verdict.startswith(
        "conv is equivalent to max on circular-shift consistency within ±0.5 points"
    )
    text = str(res)
    assert "mean ± 95% CI over seeds (n=4); baseline: max; margin ±0.5 points" in text
    assert re.search(r"conv .* -5\.0 +worse ", text)  # the paired difference and its verdict
    assert "Holm-corrected over the 1 comparison of each metric" in text


def test_the_api_returns_verdict_objects_with_ci_p_values_and_seeds():
    records = [rec("max", s, a) for s, a in enumerate(MAX)]
    records += [rec("conv", s, a) for s, a in enumerate(CONV)]
    res = ComparisonResults.from_records(records, margin="test_acc=1,test_loss=0.02")
    assert res.margins["test_acc"] == pytest.approx(0.01)
    assert res.margins["test_loss"] == pytest.approx(0.02)
    rows = {(r["metric"], r["variant"]): r for r in res.verdict_rows()}
    acc = rows[("test_acc", "conv")]
    assert acc["verdict"] == "worse" and acc["seeds"] == 4 and acc["n"] == 4
    assert acc["lo"] < acc["diff"] < acc["hi"] < 0
    for key in ("p", "p_adj", "p_equiv", "p_equiv_adj", "bootstrap_lo", "p_improvement"):
        assert key in acc
    assert acc["p_improvement"] == 0.0  # conv lost on every seed
    assert json.loads(json.dumps(res.to_dict(), default=str))["decisions"]
    assert res.verdicts[0].startswith("conv is worse than max")


def test_n_1_with_a_large_gap_is_never_called_a_tie(tmp_path):
    """An untested comparison reads "not tested (n=1)", once, in every output."""
    from poolstride.report.html_report import render_page, summary_html
    from poolstride.report.markdown import render_markdown
    from poolstride.report.run import from_records
    from poolstride.report.tables import bottom_line

    records = [rec("max", 0, 0.90), rec("conv", 0, 0.66), rec("avg", 0, 0.91)]
    res = ComparisonResults.from_records(records)
    data = from_records(records, results=res)
    outputs = {
        "terminal": str(res),
        "api": " ".join(res.verdicts),
        "bottom line": bottom_line(data),
        "notebook": summary_html(res),
        "markdown": render_markdown(data, [], []),
        "report.html": html.unescape(render_page(data, [], [])),
    }
    for name, text in outputs.items():
        low = text.lower()
        for tie in ("no significant difference", "no difference", "equivalent to max", "same as"):
            assert tie not in low, (name, tie)
        assert "not tested (n=1" in low, name
    assert outputs["terminal"].lower().count("not tested (n=1") == 1  # once, not per metric
    assert res.untested == {"conv": 1, "avg": 1}
    assert {d.kind for m in res.decisions.values() for d in m.values()} == {"not tested"}


def test_failed_runs_and_a_variant_with_nothing_finished():
    records = [
        rec("max", 0, 0.9),
        rec("max", 1, 0.91),
        rec("avg", 0, status="failed"),
        rec("avg", 1, status="failed"),
    ]
    res = ComparisonResults.from_records(records, ["max", "avg"])
    assert len(res.failed) == 2 and res.n_seeds("avg") == 0
    assert res.verdicts == [
        "avg vs max: not tested (n=0; a comparison needs at least 2 paired seeds)"
    ]
    text = str(res)
    assert "failed" in text and "avg seed 1: diverged: nan" in text
    only_failed_baseline = ComparisonResults.from_records(records, ["avg", "max"])
    assert only_failed_baseline.comparisons == []  # nothing to compare against


def test_single_seed_shows_means_without_intervals():
    res = ComparisonResults.from_records([rec("max", 0, 0.9), rec("conv", 0, 0.8)])
    row = res.summary_rows()[1]
    assert row["n"] == 1 and row["test_acc_mean"] == 0.8
    assert res.verdicts == [
        "conv vs max: not tested (n=1; a comparison needs at least 2 paired seeds)"
    ]
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
    assert [r["test_acc_verdict"] for r in summary] == ["", "worse"]
    assert float(summary[1]["test_acc_mean"]) == pytest.approx(sum(CONV) / 4)
