"""summary_html: the notebook view of a comparison."""

from __future__ import annotations

import html

import pytest

from poolstride.errors import PoolstrideError
from poolstride.experiment.results import Results
from poolstride.experiment.store import Store
from poolstride.report import summary_html


def test_summary_from_records_and_from_results_agree(run_dir):
    with Store(run_dir) as store:
        records = store.all_runs()
    results = Results.from_records(records, ["max", "conv", "avg"], "max")
    from_results = summary_html(results)
    assert from_results == summary_html(records)  # same order, same baseline here
    text = html.unescape(from_results)
    for sentence in results.verdicts:
        assert sentence in text
    assert from_results.startswith('<div class="poolstride-summary">')
    assert "<table>" in from_results and "(baseline)" in text


def test_summary_escapes_variant_names(make_run, tmp_path):
    run = make_run(
        tmp_path / "x", variants=("<b>max</b>", "<script>alert(1)</script>"), seeds=(0, 1)
    )
    with Store(run) as store:
        out = summary_html(store.all_runs())
    assert "<script>" not in out and "<b>max</b>" not in out
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out


def test_summary_needs_something():
    with pytest.raises(PoolstrideError, match="at least one RunRecord"):
        summary_html([])
