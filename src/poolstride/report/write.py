"""``write_report``: a run directory's store -> ``report.html`` + ``report.md`` + ``figures/``."""

from __future__ import annotations

from pathlib import Path

from poolstride.experiment.store import check_writable
from poolstride.explain.explainer_page import page_html
from poolstride.report.exports import export_column
from poolstride.report.figures import render_figures
from poolstride.report.html_report import EXPLAINER_NAME, render_page
from poolstride.report.markdown import render_markdown
from poolstride.report.palette import variant_styles
from poolstride.report.run import layer_profiles, load_run

#: What :func:`write_report` writes into the run directory.
HTML_NAME = "report.html"
MARKDOWN_NAME = "report.md"
FIGURES_DIR = "figures"


def write_report(
    run_dir: str | Path,
    *,
    baseline: str | None = None,
    test: str | None = None,
    profiles: bool = True,
    exports: bool = True,
) -> Path:
    """Write the report of ``run_dir`` and return the path of ``report.html``.

    Reads only ``run_dir/runs.sqlite`` (plus ``config.yaml`` for the variant order, baseline
    and test, when present) and writes, into ``run_dir``:

    - ``report.html`` — one self-contained page (inline CSS, figures as inline SVG images,
      no script, no network): verdict, results table, figures, per-layer tables, runs,
      environment, full config and the command that reproduces the run;
    - ``report.md`` — the same content in Markdown, linking the figures below;
    - ``figures/*.svg`` — accuracy vs params and MACs, shift consistency per offset,
      learning curves, gradient norm per layer;
    - ``explain.html`` — the interactive explainer page (:mod:`poolstride.explain`), linked
      from the report for readers new to pooling and stride.

    Args:
        baseline: override the baseline the statistics compare against.
        test: override the paired test (``t`` or ``wilcoxon``).
        profiles: rebuild each variant's model for the per-layer table (needs the dataset's
            shape: generated sets always work, image sets need their files locally).
        exports: the results table's "exports to ONNX" column (one export per variant,
            :mod:`poolstride.report.exports`; a note instead when onnx is not installed).

    Raises:
        PoolstrideError: ``run_dir`` holds no run store, the store is empty, or ``run_dir``
            is not writable (checked before anything is rendered; the store is only read).
    """
    data = load_run(run_dir, baseline=baseline, test=test)
    out = data.run_dir if data.run_dir is not None else Path(run_dir)
    # before any rendering: a read-only run directory is one line, and the store is only read
    check_writable(
        out,
        "run directory",
        hint="the stored results are untouched; copy the run directory somewhere writable "
        "and run `poolstride report` there",
    )
    styles = variant_styles(data.variants)
    figures = render_figures(data, styles, out / FIGURES_DIR)
    tables = layer_profiles(data) if profiles else []
    onnx = export_column(data) if exports else None
    present = {p.name for p in out.iterdir() if p.is_file() and not p.name.startswith(".")}
    listing = sorted(present | {HTML_NAME, MARKDOWN_NAME, EXPLAINER_NAME, f"{FIGURES_DIR}/"})
    _write_atomic(out / EXPLAINER_NAME, page_html())
    html_path = out / HTML_NAME
    _write_atomic(html_path, render_page(data, figures, tables, files=listing, exports=onnx))
    _write_atomic(
        out / MARKDOWN_NAME, render_markdown(data, figures, tables, base_dir=out, exports=onnx)
    )
    return html_path


def _write_atomic(path: Path, text: str) -> None:
    """Write via a temporary file and rename, so a reader never sees half a report."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


__all__ = ["FIGURES_DIR", "HTML_NAME", "MARKDOWN_NAME", "write_report"]
