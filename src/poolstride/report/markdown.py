"""``report.md``: the HTML report's content as Markdown, figures linked to ``figures/*.svg``.

Cells are escaped for Markdown tables (``|``) and for the HTML that Markdown renderers let
through (``& < >``), so a variant named ``<script>`` shows literally on GitHub too.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

from poolstride.experiment.results import PRIMARY_METRIC
from poolstride.experiment.stats import METRICS
from poolstride.experiment.store import mixed_execution_note
from poolstride.report import tables
from poolstride.report.exports import ExportColumn
from poolstride.report.figures import FigureFile
from poolstride.report.run import LayerProfile, RunData


def md_escape(text: object) -> str:
    """Text safe inside Markdown (and the HTML it may contain): ``& < >`` as entities,
    table pipes, backslashes, backticks and emphasis markers backslash-escaped, and ``](``
    broken so no link can be formed."""
    out = html.escape(str(text), quote=False)
    for ch in ("\\", "|", "`", "*", "_"):
        out = out.replace(ch, "\\" + ch)
    return out.replace("](", "]\\(").replace("\n", " ")


def md_table(table: tables.Table) -> str:
    lines = [
        "| " + " | ".join(md_escape(h) or " " for h in table.headers) + " |",
        "|" + "|".join("---:" if num else "---" for num in table.numeric) + "|",
    ]
    for row in table.rows:
        lines.append("| " + " | ".join(md_escape(c) for c in row) + " |")
    return "\n".join(lines)


def render_markdown(
    data: RunData,
    figures: Sequence[FigureFile],
    profiles: Sequence[LayerProfile],
    *,
    figures_dir: Path | None = None,
    base_dir: Path | None = None,
    exports: ExportColumn | None = None,
) -> str:
    """The report as Markdown; figure links are relative to ``base_dir`` (the run directory);
    ``exports``: the results table's ONNX column."""
    out = [
        f"# poolstride report: {md_escape(data.name)}",
        "",
        md_escape(tables.headline(data)),
        "",
        "## Verdict",
        "",
        f"**{md_escape(tables.bottom_line(data))}**",
        "",
    ]
    res = data.results
    for title, sentences in tables.outcome_groups(res):
        out.append(f"- **{md_escape(title)}**")
        out += [f"  - {md_escape(s)}" for s in sentences]
    untested = tables.untested_sentence(res)
    if untested:
        out += ["", md_escape(untested)]
    for line in tables.auto_lines(res):
        out += ["", md_escape(line)]
    failed = [r for r in data.records if not r.finished]
    if failed:
        out += ["", f"{len(failed)} run(s) failed and are left out of the statistics (see Runs)."]
    mixed = mixed_execution_note(data.records)
    if mixed:  # one key, several executions (docs/reliability.md)
        out += ["", md_escape(f"Note: {mixed}.")]
    if res.ordered(PRIMARY_METRIC):
        out += [
            "",
            md_escape(tables.method_sentence(res)),
            "",
            md_table(tables.verdict_table(data)),
            "",
            md_escape(tables.VERDICT_NOTE),
        ]
    others = [
        (label, sentences)
        for label, sentences in tables.verdict_groups(data)
        if not label.startswith(METRICS[PRIMARY_METRIC].label)
    ]
    if others:
        out += ["", "### Other metrics", ""]
        for label, sentences in others:
            out.append(f"- **{md_escape(label)}**")
            out += [f"  - {md_escape(s)}" for s in sentences]
    out += [
        "",
        "## Results",
        "",
        md_table(tables.results_table(data, exports.cells if exports else None)),
        "",
        md_escape(" ".join([tables.RESULTS_NOTE, *([exports.note] if exports else [])])),
        "",
        "## Speed",
        "",
        md_escape(tables.SPEED_NOTE),
        "",
        md_table(tables.speed_table(data)),
        "",
        *[line for text in tables.execution_lines(data) for line in (md_escape(text), "")],
        "## Figures",
        "",
    ]
    for fig in figures:
        out += [f"### {md_escape(fig.title)}", ""]
        if fig.missing or fig.path is None:
            out += [f"Not shown: {md_escape(fig.missing or 'not saved')}.", ""]
            continue
        link = fig.path.relative_to(base_dir) if base_dir is not None else fig.path
        out += [f"![{md_escape(fig.title)}]({link.as_posix()})", "", md_escape(fig.caption), ""]
    out += [
        "## Per-layer shapes and receptive fields",
        "",
        "Each variant's model rebuilt from its stored config (untrained) and profiled "
        "with poolstride.analysis.profile.",
        "",
    ]
    convention = ""
    for p in profiles:
        if p.table is None:
            out += [
                f"### {md_escape(p.variant)}",
                "",
                f"Could not rebuild this variant's model: {md_escape(p.error)}",
                "",
            ]
            continue
        convention = getattr(p.table, "convention", "") or convention
        out += [
            f"### {md_escape(p.variant)}",
            "",
            md_escape(tables.profile_summary(p.table)),
            "",
            md_table(tables.profile_table(p.table)),
            "",
        ]
    if convention:
        out += [f"Cost convention: {md_escape(convention)}.", ""]
    out += [
        "## Runs",
        "",
        md_table(tables.runs_table(data)),
        "",
        "## Reproduce",
        "",
        "```sh",
        data.command().replace("```", "'''"),
        "```",
        "",
        "### Environment",
        "",
        md_table(tables.environment_table(data)),
        "",
        "### Full configuration",
        "",
        md_table(tables.config_table(data)),
        "",
    ]
    return "\n".join(out)


__all__ = ["md_escape", "md_table", "render_markdown"]
