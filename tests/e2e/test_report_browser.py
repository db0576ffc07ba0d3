"""The HTML report in a real headless browser (Debian's chromium driven by Playwright).

Skips when chromium or Playwright is missing, except under CI (``CI`` set), where a missing
browser is a failure: CI installs it (``.ci/run``). Never downloads a browser.
``POOLSTRIDE_CHROMIUM`` points at another chromium binary.
"""

from __future__ import annotations

import html
import os
import subprocess
import sys
from pathlib import Path

import pytest

from headless_browser import WIDTH, Opened, launch_browser
from poolstride.experiment.config import RunConfig
from poolstride.experiment.store import RunRecord, Store
from poolstride.report import write_report
from poolstride.report.figures import FIGURES


@pytest.fixture(scope="module")
def browser():
    yield from launch_browser()


def _check_page(opened: Opened, n_variants: int):
    page = opened.page
    assert opened.errors == []
    # nothing but the file itself and its inline data: URIs was requested
    assert all(u.startswith(("file:", "data:")) for u in opened.requests), opened.requests
    images = page.eval_on_selector_all(
        "img", "els => els.map(e => [e.complete, e.naturalWidth, e.getBoundingClientRect().width])"
    )
    assert len(images) == len(FIGURES)
    for complete, natural, shown in images:
        assert complete and natural > 0 and 0 < shown <= WIDTH
    verdict = page.inner_text("#verdict")
    assert "Test accuracy (paired t-test and TOST, fixed seeds, Holm-corrected" in verdict
    rows = page.eval_on_selector_all("#results tbody tr", "els => els.length")
    assert rows == n_variants
    # readable at laptop width: no sideways scrolling of the page or the results table
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH
    assert page.evaluate(
        "(() => { const d = document.querySelector('#results .scroll');"
        " return d.scrollWidth <= d.clientWidth; })()"
    )


@pytest.mark.slow
def test_report_of_a_real_tiny_run_renders(browser, tmp_path):
    import poolstride

    run_dir = tmp_path / "tiny"
    results = poolstride.compare(
        "mnist1d",
        ["max", "conv"],
        2,
        steps=8,
        batch_size=32,
        train_size=200,
        log_every=2,
        eval_points=2,
        shift_samples=50,
        max_shift=2,
        device="cpu",
        out=run_dir,
    )
    assert len(results.finished) == 4
    from poolstride.report import summary_html

    notebook = summary_html(results)  # what Results._repr_html_ shows
    assert all(html.escape(v) in notebook for v in results.verdicts)
    path = write_report(run_dir)
    opened = Opened(browser, path)
    try:
        _check_page(opened, n_variants=2)
        text = opened.page.inner_text("body")
        for sentence in results.verdicts:
            assert sentence in text
        assert "features.0.0" in text  # per-layer table of the rebuilt model
        opened.page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    finally:
        opened.close()
    assert (tmp_path / "report.png").stat().st_size > 10_000


PAYLOADS = ("<script>window.__pwned=1</script>", '<img src=x onerror="window.__pwned=2">')


def _hostile_store(run_dir: Path) -> Path:
    """Two variants named like markup, a config value too; minimal but real-shaped metrics."""
    with Store(run_dir) as store:
        for i, variant in enumerate(PAYLOADS):
            for seed in (0, 1):
                cfg = dict(
                    RunConfig(seed=seed).to_dict(), variant=variant, dataset="folder:" + PAYLOADS[0]
                )
                acc = 0.8 - 0.05 * i + 0.01 * seed
                metrics = {
                    "test_acc": acc,
                    "params": 1000 * (i + 1),
                    "macs": 5000 * (i + 1),
                    "curve": {
                        "step": [1, 2],
                        "train_loss": [2.0, 1.0],
                        "eval_step": [2],
                        "test_acc": [acc],
                    },
                    "consistency_by_offset": {
                        "offsets": [-1, 0, 1],
                        "circular": [0.9, 1.0, 0.9],
                        "crop": [0.8, 1.0, 0.8],
                    },
                    "grad_norm_init": {"a": 1.0},
                    "grad_norm_final": {"a": 0.5},
                    "feature_stability": {PAYLOADS[1]: 0.3},
                }
                store.put(
                    RunRecord(
                        f"{i}{seed}",
                        "finished",
                        cfg,
                        metrics,
                        git_hash=PAYLOADS[1],
                        started_at=f"2026-01-01T00:0{i}:0{seed}",
                    )
                )
    return run_dir


def test_user_strings_never_execute_and_show_literally(browser, tmp_path):
    run_name = "run<img src=x onerror=window.__pwned=3>"  # no "/": it is one directory
    run_dir = _hostile_store(tmp_path / run_name)
    path = write_report(run_dir)
    opened = Opened(browser, path)
    try:
        page = opened.page
        assert page.evaluate("typeof window.__pwned") == "undefined"
        assert opened.errors == []
        text = page.inner_text("body")
        for payload in PAYLOADS:
            assert payload in text
        assert run_name in page.title() and run_name in page.inner_text("h1")
        # the only images are the figures (the payload's <img> was not parsed as one)
        assert page.eval_on_selector_all("img", "els => els.length") == len(FIGURES)
        assert page.eval_on_selector_all("script", "els => els.length") == 0
    finally:
        opened.close()


@pytest.mark.slow
@pytest.mark.parametrize("ci", [False, True])
def test_missing_browser_skips_locally_and_fails_under_ci(ci, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["POOLSTRIDE_CHROMIUM"] = str(tmp_path / "no-such-chromium")
    if ci:
        env["CI"] = "1"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            __file__,
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:xdist",
            "-k",
            "never_execute",
            "--basetemp",
            str(tmp_path / "bt"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if ci:
        assert proc.returncode == 1, proc.stdout
        assert "chromium is not installed (required under CI)" in proc.stdout
    else:
        assert proc.returncode == 0, proc.stdout
        assert "1 skipped" in proc.stdout
