"""The paper table shows the published numbers next to ours, in Markdown, HTML and the terminal."""

from __future__ import annotations

import io
import json

import pytest
from reproduce_fakes import fake_results
from rich.console import Console

from poolstride.reproduce.paper_table import measure, paper_table
from poolstride.reproduce.registry import STUDIES
from poolstride.reproduce.studies import allcnn, mnist1d_pooling
from poolstride.reproduce.study import OUTCOMES, StudyResults


def _allcnn_results() -> StudyResults:
    acc = {
        "base": [0.70, 0.71, 0.72],
        "strided": [0.68, 0.69, 0.70],
        "convpool": [0.72, 0.725, 0.73],
        "allconv": [0.73, 0.735, 0.745],
    }
    grid = allcnn.CPU.grids[0].label
    return StudyResults(allcnn.STUDY, "cpu", {grid: fake_results(acc, "base")}, allcnn.CPU)


def test_allcnn_table_has_the_published_errors_and_ours_as_error():
    table = paper_table(_allcnn_results())
    md = table.to_markdown()
    for value in ("9.74%", "10.19%", "9.31%", "9.08%"):
        assert value in md
    for label in ("Model C", "Strided-CNN-C", "ConvPool-CNN-C", "All-CNN-C"):
        assert label in md
    row = next(r for r in table.rows if r.variant == "base")
    assert row.ours.mean == pytest.approx(100 - 71.0)  # error = 100 - accuracy in %
    assert row.delta == pytest.approx(row.ours.mean - 9.74)
    assert table.outcome in OUTCOMES
    assert f"Verdict at the `cpu` budget: {table.outcome}" in md


def test_html_escapes_and_holds_every_row():
    table = paper_table(_allcnn_results())
    page = table.to_html()
    assert page.count("<tr>") == len(table.rows) + 1
    assert "9.74%" in page and "<h1>" in page


def test_terminal_rendering_prints_the_verdict():
    buf = io.StringIO()
    paper_table(_allcnn_results()).render(Console(file=buf, width=200))
    text = buf.getvalue()
    assert "verdict:" in text and "All-CNN-C" in text


def test_published_rows_of_grids_not_run_are_listed_as_such():
    recipe = mnist1d_pooling.CPU
    acc = {v: [0.8, 0.81] for v in mnist1d_pooling.VARIANTS}
    grids = {g.label: fake_results(acc, "subsample") for g in recipe.grids[:1]}  # n=500 only
    short = type(recipe)(grids=recipe.grids[:1], seeds=2)
    res = StudyResults(mnist1d_pooling.STUDY, "cpu", grids, short)
    table = paper_table(res)
    missing = [r for r in table.rows if r.ours is None]
    assert len(missing) == len(mnist1d_pooling.STUDY.published)
    assert "not run at this budget" in table.to_markdown()
    json.dumps(table.to_dict(), default=str)  # serialisable


def test_measure_error_mirrors_the_accuracy_interval():
    res = fake_results({"a": [0.9, 0.92, 0.94]})
    acc, err = measure(res, "a", "test_acc"), measure(res, "a", "test_error")
    assert err.mean == pytest.approx(100 - acc.mean)
    assert (err.lo, err.hi) == pytest.approx((100 - acc.hi, 100 - acc.lo))


def test_every_published_row_uses_a_known_metric_and_a_variant_of_its_recipes():
    from poolstride.reproduce.paper_table import MEASURES

    for study in STUDIES.values():
        variants = {
            v for r in study.budgets.values() for g in r.grids for v in g.options["variants"]
        }
        for row in study.published:
            assert row.metric in MEASURES, (study.name, row.metric)
            assert row.variant in variants, (study.name, row.variant)
