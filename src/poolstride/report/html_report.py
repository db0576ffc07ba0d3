"""The self-contained HTML page (and the notebook summary) of a run.

One file, no network: the style sheet is inline, figures are SVG embedded as base64
``data:`` URIs in ``<img>`` tags (an SVG shown through ``<img>`` cannot run script, and the
browser checks it decoded), and there is no JavaScript at all. Every string from the run —
names, config values, error messages — goes through the escaping builder
(:mod:`poolstride.report.markup`).
"""

from __future__ import annotations

import base64
import platform
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from poolstride._version import __version__
from poolstride.errors import PoolstrideError
from poolstride.experiment.results import PRIMARY_METRIC, Results
from poolstride.experiment.stats import METRICS
from poolstride.experiment.store import mixed_execution_note
from poolstride.report import tables
from poolstride.report.exports import ExportColumn
from poolstride.report.figures import FigureFile
from poolstride.report.markup import Markup, join, tag
from poolstride.report.palette import Style, variant_styles
from poolstride.report.run import LayerProfile, RunData, from_records

CSS = Markup("""
:root { --fg: #1b1f24; --muted: #57606a; --line: #d0d7de; --bg-alt: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); background: #fff; line-height: 1.5;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 32px 64px; }
h1 { font-size: 26px; margin: 0 0 4px; word-break: break-word; }
h2 { font-size: 20px; margin: 36px 0 8px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 16px; margin: 20px 0 6px; }
p, li { max-width: 80ch; }
.muted, figcaption, .note { color: var(--muted); font-size: 13px; }
nav { font-size: 14px; margin: 8px 0 0; }
nav a { margin-right: 14px; color: #0550ae; text-decoration: none; }
.verdict { background: var(--bg-alt); border-left: 4px solid #0072B2; padding: 10px 16px;
  margin: 12px 0; }
.verdict p { margin: 4px 0; font-weight: 600; }
.verdict ul { margin: 4px 0; padding-left: 20px; }
.scroll { overflow-x: auto; margin: 8px 0; }
table { border-collapse: collapse; font-size: 13.5px; font-variant-numeric: tabular-nums; }
th, td { border-bottom: 1px solid var(--line); padding: 5px 8px; text-align: left;
  vertical-align: top; }
th { background: var(--bg-alt); font-weight: 600; font-size: 12.5px; line-height: 1.3;
  vertical-align: bottom; }
th.num { text-align: right; }
td.num { text-align: right; white-space: nowrap; }
td.key { white-space: nowrap; }
td .ci { display: block; font-size: 11.5px; color: var(--muted); font-weight: normal; }
tr.baseline td { font-weight: 600; }
.swatch { display: inline-block; width: 11px; height: 11px; border-radius: 2px;
  margin-right: 6px; vertical-align: -1px; }
figure { margin: 16px 0 28px; }
figure img { display: block; width: 100%; max-width: 960px; height: auto; }
.missing { border: 1px dashed var(--line); padding: 12px 16px; color: var(--muted); }
pre { background: var(--bg-alt); padding: 10px 14px; overflow-x: auto; font-size: 13px;
  white-space: pre-wrap; word-break: break-all; }
details { margin: 6px 0; }
summary { cursor: pointer; }
code { font-size: 13px; }
""")


def _cell(text: str, numeric: bool, styles: dict[str, Style] | None = None) -> Markup:
    if styles is not None and text in styles:
        swatch = tag(
            "span", class_="swatch", style=f"background:{styles[text].color}", aria_hidden="true"
        )
        return tag("td", swatch, text, class_="key")
    if numeric and " [" in text:
        # "54.8 [27.4, 82.1], p=0.01": the mean on top, its interval below in small type,
        # which keeps an 11-column table inside a laptop-width page
        mean, rest = text.split(" [", 1)
        return tag("td", mean, tag("span", "[" + rest, class_="ci"), class_="num")
    return tag("td", text, class_="num" if numeric else None)


def html_table(
    table: tables.Table,
    styles: dict[str, Style] | None = None,
    baseline: str | None = None,
    caption: str | None = None,
) -> Markup:
    """A :class:`~poolstride.report.tables.Table` as an HTML table (cells escaped; variant
    cells get their colour)."""
    head = tag(
        "tr",
        [
            tag("th", h, scope="col", class_="num" if num else None)
            for h, num in zip(table.headers, table.numeric)
        ],
    )
    body = []
    for row in table.rows:
        cells = [
            _cell(c, num, styles if i == table.key_column else None)
            for i, (c, num) in enumerate(zip(row, table.numeric))
        ]
        is_base = table.key_column is not None and row[table.key_column] == baseline
        body.append(tag("tr", cells, class_="baseline" if is_base else None))
    cap = (
        tag("caption", caption, class_="muted", style="caption-side:bottom;text-align:left")
        if caption
        else None
    )
    return tag("div", tag("table", cap, tag("thead", head), tag("tbody", body)), class_="scroll")


def verdict_block(data: RunData) -> Markup:
    """The verdict section: the bottom line, test accuracy's verdicts grouped by outcome
    (better / worse / equivalent / undecided), untested comparisons once, how the verdicts
    were reached, what ``--seeds auto`` did, the verdict table and the other metrics."""
    res = data.results
    groups = [
        tag("li", tag("b", title), tag("ul", [tag("li", s) for s in sentences]))
        for title, sentences in tables.outcome_groups(res)
    ]
    untested = tables.untested_sentence(res)
    failed = [r for r in data.records if not r.finished]
    notes = []
    mixed = mixed_execution_note(data.records)
    if mixed:  # one key, several executions (docs/reliability.md)
        notes.append(tag("p", f"Note: {mixed}.", class_="note"))
    if failed:
        notes.append(
            tag(
                "p",
                f"{len(failed)} run(s) failed and are left out of the statistics (see Runs).",
                class_="note",
            )
        )
    box = tag(
        "div",
        tag("p", tables.bottom_line(data)),
        tag("ul", groups) if groups else None,
        tag("p", untested) if untested else None,
        [tag("p", line) for line in tables.auto_lines(res)],
        notes,
        class_="verdict",
        id="verdict",
    )
    parts = [box]
    if res.decisions.get(PRIMARY_METRIC) and res.ordered(PRIMARY_METRIC):
        parts += [
            tag("p", tables.method_sentence(res), class_="note"),
            html_table(
                tables.verdict_table(data),
                variant_styles(data.variants),
                caption=tables.VERDICT_NOTE,
            ),
        ]
    others = [
        tag("li", tag("b", label), tag("ul", [tag("li", s) for s in sentences]))
        for label, sentences in tables.verdict_groups(data)
        if not label.startswith(METRICS[PRIMARY_METRIC].label)
    ]
    if others:
        parts += [tag("h3", "Other metrics"), tag("ul", others)]
    return join(parts)


def figure_block(fig: FigureFile) -> Markup:
    if fig.missing:
        return tag(
            "figure",
            tag("h3", fig.title),
            tag("div", f"Not shown: {fig.missing}.", class_="missing"),
            id=f"fig-{fig.name}",
        )
    uri = "data:image/svg+xml;base64," + base64.b64encode(fig.svg.encode()).decode("ascii")
    return tag(
        "figure",
        tag("h3", fig.title),
        tag("img", src=uri, alt=fig.title, loading="eager"),
        tag("figcaption", fig.caption),
        id=f"fig-{fig.name}",
    )


def profiles_block(profiles: Sequence[LayerProfile], styles: dict[str, Style]) -> Markup:
    if not profiles:
        return tag("p", "No finished runs to rebuild models from.", class_="missing")
    parts = []
    convention = ""
    for i, p in enumerate(profiles):
        style = styles.get(p.variant)
        swatch = (
            tag("span", class_="swatch", style=f"background:{style.color}", aria_hidden="true")
            if style
            else None
        )
        if p.table is None:
            parts.append(
                tag(
                    "details",
                    tag("summary", swatch, tag("b", p.variant), " — table not available"),
                    tag(
                        "p", f"Could not rebuild this variant's model: {p.error}", class_="missing"
                    ),
                    open=True,
                )
            )
            continue
        convention = getattr(p.table, "convention", "") or convention
        parts.append(
            tag(
                "details",
                tag("summary", swatch, tag("b", p.variant), " — ", tables.profile_summary(p.table)),
                html_table(tables.profile_table(p.table)),
                open=i == 0,
            )
        )
    if convention:
        parts.append(tag("p", f"Cost convention: {convention}.", class_="note"))
    return join(parts)


def render_page(
    data: RunData,
    figures: Sequence[FigureFile],
    profiles: Sequence[LayerProfile],
    *,
    files: Sequence[str] = (),
    exports: ExportColumn | None = None,
) -> str:
    """The whole HTML document as a string (``exports``: the results table's ONNX column)."""
    styles = variant_styles(data.variants)
    title = f"poolstride report: {data.name}"
    sections = [
        ("verdict", "Verdict", [tag("p", tables.headline(data)), verdict_block(data)]),
        (
            "results",
            "Results",
            [
                html_table(
                    tables.results_table(data, exports.cells if exports else None),
                    styles,
                    data.baseline,
                    caption=" ".join([tables.RESULTS_NOTE, *([exports.note] if exports else [])]),
                )
            ],
        ),
        (
            "speed",
            "Speed",
            [
                tag("p", tables.SPEED_NOTE, class_="note"),
                html_table(tables.speed_table(data), styles, data.baseline),
                *[tag("p", text, class_="note") for text in tables.execution_lines(data)],
            ],
        ),
        ("figures", "Figures", [figure_block(f) for f in figures]),
        (
            "layers",
            "Per-layer shapes and receptive fields",
            [
                tag(
                    "p",
                    "Each variant's model rebuilt from its stored config (untrained: shapes, "
                    "parameters and receptive fields do not depend on the weights) and "
                    "profiled with poolstride.analysis.profile.",
                    class_="note",
                ),
                profiles_block(profiles, styles),
            ],
        ),
        ("runs", "Runs", [html_table(tables.runs_table(data), styles, None)]),
        (
            "reproduce",
            "Reproduce",
            [
                tag(
                    "p",
                    "The command that re-runs this comparison (finished runs in the run "
                    "directory are skipped; delete runs.sqlite to start over):",
                ),
                tag("pre", tag("code", data.command())),
                tag("h3", "Environment"),
                html_table(tables.environment_table(data)),
                tag("h3", "Full configuration"),
                html_table(tables.config_table(data)),
                tag("p", "Files in the run directory: " + ", ".join(files), class_="note")
                if files
                else None,
            ],
        ),
    ]
    nav = tag("nav", [tag("a", label, href=f"#{sid}") for sid, label, _ in sections])
    body = [tag("h1", title), tag("p", _generated_line(), class_="muted")]
    if EXPLAINER_NAME in files:
        body.append(
            tag(
                "p",
                "New to pooling and stride? ",
                tag("a", "explain.html", href=EXPLAINER_NAME),
                " (beside this report) lets you slide a pooling window or a strided kernel "
                "step by step and compare them side by side.",
                class_="muted",
            )
        )
    body.append(nav)
    for sid, label, content in sections:
        body.append(tag("section", tag("h2", label), content, id=sid))
    doc = tag(
        "html",
        tag(
            "head",
            tag("meta", charset="utf-8"),
            tag("meta", name="viewport", content="width=device-width, initial-scale=1"),
            tag(
                "meta",
                http_equiv="Content-Security-Policy",
                content="default-src 'none'; img-src data:; style-src 'unsafe-inline'",
            ),
            tag("title", title),
            tag("style", CSS),
        ),
        tag("body", tag("main", body)),
        lang="en",
    )
    return str(Markup("<!DOCTYPE html>\n") + doc + Markup("\n"))


#: The interactive explainer page written beside the report (poolstride.explain).
EXPLAINER_NAME = "explain.html"


def _generated_line() -> str:
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"Generated {now} by poolstride {__version__} (Python {platform.python_version()}) "
        "from the run store alone; this page needs no network."
    )


def summary_html(results_or_records: Any) -> str:
    """The notebook summary: bottom line, results table and verdicts, as an HTML fragment.

    Accepts a :class:`~poolstride.experiment.results.Results` or a sequence of
    :class:`~poolstride.experiment.store.RunRecord`. Same content (and colours) as the
    report's first two sections; styled with inline attributes only, so it renders the same
    in Jupyter, VS Code and GitHub's notebook viewer.
    """
    data = _as_data(results_or_records, from_records)
    styles = variant_styles(data.variants)
    table = html_table(
        tables.results_table(data), styles, data.baseline, caption=tables.RESULTS_NOTE
    )
    groups = [
        tag("li", tag("b", label), tag("ul", [tag("li", s) for s in sentences]))
        for label, sentences in tables.verdict_groups(data)
    ]
    untested = tables.untested_sentence(data.results)
    return str(
        tag(
            "div",
            tag("style", _SUMMARY_CSS),
            tag("p", tables.headline(data)),
            tag("p", tag("b", tables.bottom_line(data))),
            table,
            tag("ul", groups) if groups else None,
            tag("p", untested) if untested else None,
            [tag("p", line) for line in tables.auto_lines(data.results)],
            class_="poolstride-summary",
        )
    )


_SUMMARY_CSS = Markup(
    ".poolstride-summary td.num,.poolstride-summary th.num{text-align:right;white-space:nowrap}"
    ".poolstride-summary td.key{white-space:nowrap}.poolstride-summary .swatch{display:inline-block;width:10px;height:10px;margin-right:5px;"
    "border-radius:2px}.poolstride-summary tr.baseline td{font-weight:600}"
    ".poolstride-summary caption{caption-side:bottom;font-size:85%;opacity:.8}"
)


def _as_data(obj: Any, from_records) -> RunData:
    if isinstance(obj, RunData):
        return obj
    if isinstance(obj, Results):
        name = obj.out.name if obj.out is not None else "comparison"
        return from_records(obj.records, name=name, run_dir=obj.out, results=obj)
    records = list(obj)
    if not records:
        raise PoolstrideError("summary_html needs a Results object or at least one RunRecord")
    return from_records(records)


__all__ = ["CSS", "html_table", "render_page", "summary_html"]
