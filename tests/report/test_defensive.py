"""Malformed or partial metrics never crash a figure or a table: they are skipped or stated."""

from __future__ import annotations

import math

import numpy as np
import pytest

from poolstride.experiment.config import RunConfig
from poolstride.experiment.store import RunRecord
from poolstride.report.figures import FIGURES, MissingData, merge_orders
from poolstride.report.html_report import render_page
from poolstride.report.markdown import render_markdown
from poolstride.report.palette import variant_styles
from poolstride.report.run import from_records


def _records(metrics_for) -> list[RunRecord]:
    out = []
    for v in ("max", "conv"):
        for s in (0, 1, 2):
            cfg = dict(RunConfig(seed=s).to_dict(), variant=v)
            out.append(RunRecord(f"{v}{s}", "finished", cfg, metrics_for(v, s)))
    return out


def _base(v, s):
    return {"test_acc": 0.8 + 0.01 * s - (0.05 if v == "conv" else 0), "params": 100, "macs": 1000}


CASES = {
    "wrong types": lambda v, s: {
        **_base(v, s),
        "curve": "oops",
        "consistency_by_offset": [1],
        "grad_norm_init": 3.0,
        "feature_stability": None,
    },
    "ragged curves": lambda v, s: {
        **_base(v, s),
        "curve": {
            "step": list(range(1, 5 + s)),
            "train_loss": [1.0] * (4 + s),
            "eval_step": [4],
            "test_acc": [0.5],
        },
    },
    "None inside lists": lambda v, s: {
        **_base(v, s),
        "curve": {
            "step": [1, 2, 3],
            "train_loss": [1.0, None, 0.5],
            "eval_step": [3],
            "test_acc": [None],
        },
        "consistency_by_offset": {"offsets": [-1, 0, 1], "circular": [None, 1.0, 0.9]},
    },
    "offsets differ by seed": lambda v, s: {
        **_base(v, s),
        "consistency_by_offset": {
            "offsets": list(range(-s, s + 1)),
            "circular": [1.0] * (2 * s + 1),
            "crop": [1.0] * (2 * s + 1),
        },
    },
    "empty dicts and NaN": lambda v, s: {
        **_base(v, s),
        "grad_norm_init": {},
        "grad_norm_final": {"a": math.nan, "b": "x"},
        "feature_stability": {"a": math.inf},
    },
    "no cost, strings as numbers": lambda v, s: {"test_acc": "0.9", "params": None},
    "only one seed finished": lambda v, s: _base(v, s) if s == 0 else {},
}


@pytest.mark.parametrize("case", list(CASES))
def test_figures_and_tables_survive_malformed_metrics(case):
    data = from_records(_records(CASES[case]))
    styles = variant_styles(data.variants)
    for _, _, _, draw in FIGURES:
        try:
            fig = draw(data, styles)
        except MissingData as err:
            assert str(err).startswith("no run recorded")
        else:
            assert fig.axes
    page = render_page(data, [], [])
    md = render_markdown(data, [], [])
    assert "Verdict" in page and "## Results" in md


def _is_subsequence(short, long):
    it = iter(long)
    return all(name in it for name in short)


def test_merge_orders_keeps_every_name_and_the_first_order():
    merged = merge_orders([["f0", "f1", "head"], ["f0", "f0.conv", "f1", "f1.conv", "head"]])
    assert merged == ["f0", "f0.conv", "f1", "f1.conv", "head"]
    rng = np.random.default_rng(0)
    full = [f"l{i}" for i in range(8)]
    for _ in range(200):
        orders = [[n for n in full if rng.random() < 0.7] for _ in range(3)]
        merged = merge_orders(orders)
        assert sorted(merged) == sorted(set().union(*orders))
        assert len(merged) == len(set(merged))
        assert _is_subsequence(orders[0], merged)
        # a later order is kept too when it only adds names after ones already placed
        if orders[1][:1] == orders[0][:1] == ["l0"] and set(orders[1]) >= set(orders[0]):
            assert _is_subsequence(orders[1], merged)
