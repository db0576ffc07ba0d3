"""The terminal view of a comparison: the results table, verdicts and failed runs (rich).

What ``poolstride compare`` prints and ``str()`` of the results of :func:`poolstride.compare`
shows: one row per variant with mean ± the 95% CI half-width over seeds, the paired
difference from the baseline and its test-accuracy verdict, then the verdict sentences by
metric (better, worse, equivalent within the margin, undecided), the comparisons that could
not be tested (once), and what ``--seeds auto`` did.
"""

from __future__ import annotations

import math

from rich import box
from rich.console import Console
from rich.table import Table

from poolstride.experiment.results import PRIMARY_METRIC, Results
from poolstride.experiment.stats import METRICS, Summary, margin_text
from poolstride.report.tables import auto_lines, method_sentence, untested_sentence


def results_table(results: Results) -> Table:
    """A rich Table: one row per variant, mean ± 95% CI half-width over seeds."""
    n_all = sorted({results.n_seeds(v) for v in results.variants})
    n_text = f"n={n_all[0]}" if len(n_all) == 1 else "n varies"
    margin = margin_text(PRIMARY_METRIC, results.margins.get(PRIMARY_METRIC))
    table = Table(
        title=f"mean ± 95% CI over seeds ({n_text}); baseline: {results.baseline}; margin {margin}",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
    )
    for name in (
        "variant",
        "n",
        "acc %",
        "Δ acc",
        "verdict",
        "circ %",
        "crop %",
        "params",
        "MACs",
    ):
        table.add_column(name, justify="left" if name == "variant" else "right", no_wrap=True)
    deltas = results.decisions.get(PRIMARY_METRIC, {})
    for v in results.variants:
        s = results.summary.get(v, {})
        if not s or s["test_acc"].n == 0:
            table.add_row(v, "0", "failed", "", "", "", "", "", "")
            continue
        d = deltas.get(v)
        if v == results.baseline:
            delta, kind = "base", ""
        elif d is None:
            delta, kind = "", ""
        else:
            delta, kind = _signed(100 * d.diff), d.kind
        table.add_row(
            v,
            str(s["test_acc"].n),
            _pm(s["test_acc"], 100),
            delta,
            kind,
            _pm(s["shift_consistency_circular"], 100),
            _pm(s["shift_consistency_crop"], 100),
            _count(s["params"].mean),
            _count(s["macs"].mean),
        )
    table.caption = (
        "acc: test accuracy. Δ acc: mean paired difference from the baseline in "
        f"points; verdict: test accuracy vs the baseline within {margin} (see below). "
        "circ / crop: shift consistency, "
        "same class under two random circular / crop shifts. Training times: "
        "results.csv and the report (Results, Speed)."
    )
    table.caption_justify = "left"
    return table


def output_console() -> Console:
    """A console for command output on stdout: rich's own in a terminal; elsewhere (a file,
    a pipe, a log) text is never wrapped at 80 columns (a verdict stays one line) and tables
    may be up to 200 columns wide."""
    console = Console()
    if console.is_terminal:
        return console
    return Console(soft_wrap=True, width=200)


def render_results(results: Results, console: Console | None = None) -> None:
    """Print the table, the verdicts (by metric, then by outcome), the untested comparisons
    once, what ``--seeds auto`` did, and any failed runs."""

    console = console or output_console()
    console.print(results_table(results))
    tested = any(results.ordered(m) for m in results.decisions)
    if results.decisions:
        console.print(f"\n[bold]Verdicts[/] vs {results.baseline}:")
    if tested:
        console.print(method_sentence(results), markup=False, highlight=False)
        for metric in results.decisions:
            ordered = results.ordered(metric)
            if not ordered:
                continue
            label = METRICS[metric].label if metric in METRICS else metric
            margin = margin_text(metric, results.margins.get(metric))
            console.print(f"[bold]{label}[/] (margin {margin})", highlight=False)
            for sentence in results.verdicts_for(metric):
                console.print(f"  • {sentence}", markup=False, highlight=False)
    untested = untested_sentence(results)
    if untested:
        console.print(untested, markup=False, highlight=False)
    acc = results.decisions.get(PRIMARY_METRIC, {})
    if results.design is None and any(d.kind == "undecided" for d in acc.values()):
        console.print(
            "Undecided needs more seeds: --seeds auto adds them, only where still open, "
            "until decided (error rates kept under the optional stopping).",
            highlight=False,
        )
    for line in auto_lines(results):
        console.print(line, markup=False, highlight=False)
    for r in results.failed:
        console.print(f"[red]failed:[/] {r.variant} seed {r.seed}: {r.reason}", highlight=False)
    if results.out is not None:
        console.print(
            f"\nresults in {results.out}/ (runs.sqlite, results.json, results.csv, summary.csv)"
        )


def results_text(results: Results) -> str:
    """The printed summary as plain text (``str()`` of a comparison's results)."""

    console = Console(width=120, record=True, file=_Discard(), color_system=None)
    render_results(results, console)
    return console.export_text()


def _ci(s: Summary, scale: float = 1.0) -> str:
    if s.n == 0 or not math.isfinite(s.mean):
        return "–"
    if s.n < 2:
        return f"{s.mean * scale:.1f}"
    return f"{s.mean * scale:.1f} [{s.lo * scale:.1f}, {s.hi * scale:.1f}]"


def _pm(s: Summary, scale: float = 1.0) -> str:
    """``97.6 ±0.4`` (the half-width of the 95% t-interval); the bare mean when n < 2."""
    if s.n == 0 or not math.isfinite(s.mean):
        return "–"
    if s.n < 2 or not math.isfinite(s.hi):
        return f"{s.mean * scale:.1f}"
    return f"{s.mean * scale:.1f} ±{(s.hi - s.mean) * scale:.1f}"


def _signed(x: float) -> str:
    return f"{x:+.1f}" if math.isfinite(x) else "–"


def _count(x: float) -> str:
    if not math.isfinite(x):
        return "–"
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= div:
            return f"{x / div:.3g}{suffix}"
    return f"{x:.0f}"


class _Discard:
    """A file that swallows what is written (rich renders to a recording console)."""

    def write(self, _text):
        return 0

    def flush(self):
        pass
