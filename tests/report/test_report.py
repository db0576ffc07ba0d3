"""write_report on hand-built stores: content, self-containment, escaping, missing data."""

from __future__ import annotations

import base64
import html
import re
import xml.etree.ElementTree as ET

import pytest

from poolstride.cli import main
from poolstride.errors import PoolstrideError
from poolstride.experiment.results import Results
from poolstride.experiment.store import Store
from poolstride.report import write_report
from poolstride.report.figures import FIGURES
from poolstride.report.run import load_run

PAYLOAD = "<script>window.__pwned=1</script>"
IMG_PAYLOAD = '<img src=x onerror="window.__pwned=2">'


@pytest.fixture(scope="module")
def report(tmp_path_factory, make_run):
    run = make_run(
        tmp_path_factory.mktemp("r") / "run",
        variants=("max", "conv", "avg"),
        effects={"conv": -0.05, "avg": 0.0},
        failed=[("avg", 2)],
    )
    path = write_report(run)
    return run, path, path.read_text()


def test_the_explainer_page_is_written_beside_the_report_and_linked(report):
    run, _, html = report
    page = (run / "explain.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "Content-Security-Policy" in page
    assert 'href="explain.html"' in html


def test_writes_html_markdown_and_one_svg_per_figure(report):
    run, path, _ = report
    assert path == run / "report.html"
    assert (run / "report.md").is_file()
    svgs = sorted(p.name for p in (run / "figures").iterdir())
    assert svgs == [
        "accuracy_vs_cost.svg",
        "feature_stability.svg",
        "forest.svg",
        "gradient_norms.svg",
        "learning_curves.svg",
        "shift_consistency.svg",
    ]
    assert len(FIGURES) == len(svgs)
    for p in (run / "figures").iterdir():
        assert ET.fromstring(p.read_text()).tag.endswith("svg")


def test_page_is_self_contained(report):
    _, _, page = report
    assert "<script" not in page.lower()
    assert "<link" not in page.lower()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", page)
    assert "url(" not in page
    images = re.findall(r'<img src="([^"]+)"', page)
    assert len(images) == len(FIGURES)
    for uri in images:
        prefix = "data:image/svg+xml;base64,"
        assert uri.startswith(prefix)
        assert ET.fromstring(base64.b64decode(uri[len(prefix) :])).tag.endswith("svg")


def test_page_states_the_same_verdicts_and_numbers_as_results(report):
    run, _, page = report
    text = html.unescape(page)
    with Store(run) as store:
        results = Results.from_records(store.all_runs(), ["max", "conv", "avg"], "max")
    assert results.verdicts
    for sentence in results.verdicts:
        assert sentence in text
    assert re.search(r"conv is worse than max: \d\.\d points less accurate", text)
    assert "Worse than max" in text and 'id="fig-forest"' in page
    for section in ("verdict", "results", "figures", "layers", "runs", "reproduce"):
        assert f'id="{section}"' in page
    acc = results.summary["max"]["test_acc"]
    assert f"{100 * acc.mean:.1f}" in text and f"[{100 * acc.lo:.1f}, {100 * acc.hi:.1f}]" in text
    # failed run: listed with its reason, counted out of the statistics
    assert "diverged: loss nan" in text and "1 run(s) failed" in text
    assert results.summary["avg"]["test_acc"].n == 2


def test_page_has_layer_tables_environment_config_and_command(report):
    _, _, page = report
    text = html.unescape(page)
    assert "features.0.0" in text and "receptive field" in text
    assert "32×40" in text  # per-input output shape of the first conv of `simple`
    assert "abc123" in text and "2.14.1" in text  # git hash and torch version of the runs
    assert "poolstride compare --variants max,conv,avg --seeds 3" in text


def test_markdown_has_same_content_and_links_existing_figures(report):
    run, _, _ = report
    md = (run / "report.md").read_text()
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert len(links) == len(FIGURES) and all((run / link).is_file() for link in links)
    assert "## Verdict" in md and "| max |" in md and "features.0.0" in md.replace("\\_", "_")


def test_speed_section_follows_results_in_page_and_markdown(report):
    from poolstride.report.tables import SPEED_NOTE

    run, _, page = report
    text = html.unescape(page)
    assert page.index('id="results"') < page.index('id="speed"') < page.index('id="figures"')
    assert SPEED_NOTE in text and "train step ms (fastest config)" in text
    assert "contiguous, poolstride pooling, ms" in text and "max (contiguous): poolstride" in text
    md = (run / "report.md").read_text()
    assert md.index("## Results") < md.index("## Speed") < md.index("## Figures")
    assert "train step ms (fastest config)" in md


def test_speed_table_and_step_column(run_dir):
    from poolstride.report.tables import results_table, speed_table

    data = load_run(run_dir)
    table = speed_table(data)
    assert table.headers == [
        "variant",
        "trained in",
        "fastest configuration",
        "contiguous, poolstride pooling, ms",
        "contiguous, pytorch pooling, ms",
        "training CPU in the kernel",
        "page faults / step",
        "downsampling kernels (fastest configuration)",
    ]
    rows = {r[0]: r for r in table.rows}
    # fake timings are 2.0 / 3.0 ms + 0.1 * seed for seeds 0-2: means 2.1 and 3.1; the fake
    # runs did not measure the system share or faults, nor record the configuration they
    # trained in (as runs stored before they were)
    assert rows["max"] == [
        "max",
        "–",
        "contiguous, poolstride pooling",
        "2.1",
        "3.1",
        "–",
        "–",
        "max (contiguous): poolstride generated",
    ]
    assert rows["conv"][-1] == "–"  # strided conv: no pooling call
    step = results_table(data)
    col = step.headers.index("train step ms (fastest config)")
    assert step.rows[0][col].startswith("2.1 [") and step.numeric[col]


def test_speed_table_shows_the_system_share_and_faults_per_step(run_dir):
    from poolstride.report.run import from_records
    from poolstride.report.tables import speed_table

    with Store(run_dir) as store:
        records = store.all_runs()
    for r in records:
        r.metrics.update(steps=100, train_system_share=0.3, train_minor_faults=5_500_000)
        r.metrics["allocator"] = "default" if r.config["variant"] == "conv" else "retain"
    table = speed_table(from_records(records))
    share = table.headers.index("training CPU in the kernel")
    rows = {r[0]: r for r in table.rows}
    assert rows["max"][share : share + 2] == ["30%", "55k"]
    assert rows["conv"][share] == "30% (default allocator)"


def test_speed_columns_put_contiguous_first_whatever_the_stored_key_order(run_dir):
    from poolstride.report.run import from_records
    from poolstride.report.tables import speed_table

    with Store(run_dir) as store:
        records = store.all_runs()
    labels = [
        f"{f}, {p} pooling"
        for f in ("channels_last", "contiguous")
        for p in ("pytorch", "poolstride")
    ]
    for r in records:  # as read back from the store: keys sorted, channels_last first
        r.metrics["step_ms_by_config"] = {c: 1.0 for c in sorted(labels)}
    headers = speed_table(from_records(records)).headers
    assert headers[3:7] == [
        f"{f}, {p} pooling, ms"
        for f in ("contiguous", "channels_last")
        for p in ("poolstride", "pytorch")
    ]


def test_runs_stored_before_step_timing_still_render(tmp_path, make_run):
    from poolstride.report.tables import results_table, speed_table

    run = make_run(tmp_path / "mixed")
    new_keys = ("step_ms", "step_config", "step_ms_by_config", "downsampling_kernels")
    with Store(run) as store:  # conv's runs predate the step-latency keys
        for r in store.all_runs():
            if r.variant == "conv":
                metrics = {k: v for k, v in r.metrics.items() if k not in new_keys}
                store.put(type(r)(**{**r.to_dict(), "metrics": metrics}))
    data = load_run(run)
    rows = {r[0]: r for r in speed_table(data).rows}
    assert rows["conv"] == ["conv", "–", "–", "–", "–", "–", "–", "–"]
    assert rows["max"][2] == "contiguous, poolstride pooling"
    col = results_table(data).headers.index("train step ms (fastest config)")
    assert [r[col] for r in results_table(data).rows][1] == "–"
    page = html.unescape(write_report(run, profiles=False).read_text())
    assert 'id="speed"' in page and "max (contiguous): poolstride generated" in page
    assert "## Speed" in (run / "report.md").read_text()


def test_missing_metrics_are_stated_not_crashed(tmp_path, make_run):
    def only_accuracy(variant, seed, effect, rng):
        return {"test_acc": 0.8 + effect + 0.01 * rng.standard_normal()}

    run = make_run(tmp_path / "bare", metrics_fn=only_accuracy, effects={"conv": -0.1})
    page = html.unescape(write_report(run, profiles=False).read_text())
    assert page.count("Not shown:") == len(FIGURES) - 1  # accuracy alone draws the forest plot
    assert "no run recorded test_acc together with params / macs" in page
    assert "no run recorded consistency_by_offset" in page
    assert "conv is" in page and "less accurate than max" in page
    assert [p.name for p in (run / "figures").glob("*.svg")] == ["forest.svg"]
    assert 'id="speed"' in page and "downsampling kernels (fastest configuration)" in page


def test_user_strings_are_escaped_everywhere(tmp_path, make_run):
    variants = (PAYLOAD, IMG_PAYLOAD)
    run = make_run(
        tmp_path / "run<script>alert(1)</script>",
        variants=variants,
        seeds=(0, 1),
        config={"note": PAYLOAD},
        head="gap",
    )
    # a config value too: the dataset name
    with Store(run) as store:
        records = store.all_runs()
        for r in records:
            store.put(
                type(r)(**{**r.to_dict(), "config": {**r.config, "dataset": "folder:" + PAYLOAD}})
            )
    page = write_report(run).read_text()
    for raw in (PAYLOAD, IMG_PAYLOAD, "<script>alert(1)</script>"):
        assert raw not in page
    assert "<script" not in page.lower() and "<img src=x" not in page
    assert html.escape(PAYLOAD) in page and html.escape(IMG_PAYLOAD) in page
    md = (run / "report.md").read_text()
    # inside the fenced shell command, text is literal (and must stay copy-pasteable)
    prose = re.sub(r"```sh\n.*?\n```", "", md, flags=re.S)
    assert PAYLOAD not in prose and "<img" not in prose
    assert md.count("```") == 2


def test_single_variant_and_no_grid_file(tmp_path, make_run):
    run = make_run(tmp_path / "one", variants=("conv",), write_grid=False)
    page = html.unescape(write_report(run, profiles=False).read_text())
    assert "Only one variant was run" in page
    data = load_run(run)
    assert data.variants == ("conv",) and data.baseline == "conv"


def test_variant_order_and_baseline_from_grid_and_override(run_dir):
    assert load_run(run_dir).variants == ("max", "conv", "avg")
    data = load_run(run_dir, baseline="conv")
    assert data.baseline == "conv"
    assert all(c.baseline == "conv" for c in data.results.comparisons)
    with pytest.raises(PoolstrideError, match="baseline 'nope' is not among"):
        load_run(run_dir, baseline="nope")


def test_the_paired_test_is_named_and_used(run_dir):
    from poolstride.report.tables import bottom_line, method_sentence

    t = load_run(run_dir)
    w = load_run(run_dir, test="wilcoxon")
    assert bottom_line(t).startswith(
        "Test accuracy (paired t-test and TOST, fixed seeds, Holm-corrected; margin ±0.5 points)"
    )
    assert "verdicts use the t-tests" in method_sentence(w.results)
    assert "wilcoxon" not in method_sentence(t.results)
    assert {c.paired.test for c in w.results.comparisons} == {"wilcoxon"}
    with pytest.raises(PoolstrideError, match="unknown test 'z'"):
        load_run(run_dir, test="z")


def test_unbuildable_model_gets_a_note_not_a_crash(tmp_path, make_run):
    run = make_run(tmp_path / "run", variants=("max", "no-such-kind"), seeds=(0, 1))
    page = html.unescape(write_report(run).read_text())
    assert "Could not rebuild this variant's model:" in page
    assert "features.0.0" in page  # the buildable variant still gets its table


def test_figures_are_deterministic(tmp_path, make_run):
    run = make_run(tmp_path / "run", seeds=(0, 1))
    write_report(run, profiles=False)
    first = {p.name: p.read_bytes() for p in (run / "figures").iterdir()}
    write_report(run, profiles=False)
    assert first == {p.name: p.read_bytes() for p in (run / "figures").iterdir()}


def test_cli_report_prints_path_and_bad_input_exits_2(run_dir, tmp_path, capsys):
    assert main(["report", str(run_dir), "--no-layers"]) == 0
    out = capsys.readouterr().out
    assert out.strip() == f"report: {run_dir / 'report.html'}"
    assert main(["report", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no run store at") and "Traceback" not in err
    assert main(["report", str(run_dir), "--baseline", "nope"]) == 2
    assert "baseline 'nope'" in capsys.readouterr().err


def test_empty_store_is_an_error(tmp_path):
    Store(tmp_path / "empty").close()
    with pytest.raises(PoolstrideError, match="holds no runs"):
        write_report(tmp_path / "empty")


def test_all_seeds_of_a_variant_failed(tmp_path, make_run):
    run = make_run(
        tmp_path / "run", variants=("max", "conv"), seeds=(0, 1), failed=[("conv", 0), ("conv", 1)]
    )
    page = html.unescape(write_report(run, profiles=False).read_text())
    assert "2 run(s) failed" in page
    assert "Not tested (n=0; a comparison needs at least 2 paired seeds" in page
    run = make_run(
        tmp_path / "run2", variants=("max", "conv"), seeds=(0, 1), failed=[("max", 0), ("max", 1)]
    )
    page = html.unescape(write_report(run, profiles=False).read_text())
    assert "No paired comparison of test accuracy was possible" in page
