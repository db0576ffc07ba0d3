"""The terminal view of a comparison: the results table, verdicts and failed runs (rich).

What ``poolstride compare`` prints and ``str()`` of the results of :func:`poolstride.compare`
shows: one row per variant with mean ± the 95% CI half-width over seeds, the paired
difference from the baseline, then the verdict sentences grouped by metric.
"""

from __future__ import annotations

import math

from rich import box
from rich.console import Console
from rich.table import Table

from poolstride.experiment.results import Results
from poolstride.experiment.stats import METRICS, Summary


def results_table(results: Results) -> Table:
    """A rich Table: one row per variant, mean ± 95% CI half-width over seeds."""
    n_all = sorted({results.n_seeds(v) for v in results.variants})
    n_text = f"n={n_all[0]}" if len(n_all) == 1 else "n varies"
    table = Table(
        title=f"mean ± 95% CI over seeds ({n_text}); baseline: {results.baseline}",
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
        "circ %",
        "crop %",
        "params",
        "MACs",
        "train s",
    ):
        table.add_column(name, justify="left" if name == "variant" else "right", no_wrap=True)
    deltas = {c.variant: c for c in results.comparisons if c.metric == "test_acc"}
    for v in results.variants:
        s = results.summary.get(v, {})
        if not s or s["test_acc"].n == 0:
            table.add_row(v, "0", "failed", "", "", "", "", "", "")
            continue
        d = deltas.get(v)
        delta = (
            "base"
            if v == results.baseline
            else (_signed(100 * d.paired.diff) + ("*" if d.significant else "") if d else "")
        )
        table.add_row(
            v,
            str(s["test_acc"].n),
            _pm(s["test_acc"], 100),
            delta,
            _pm(s["shift_consistency_circular"], 100),
            _pm(s["shift_consistency_crop"], 100),
            _count(s["params"].mean),
            _count(s["macs"].mean),
            f"{s['train_time_s'].mean:.1f}",
        )
    table.caption = (
        "acc: test accuracy. Δ acc: paired difference from the baseline in "
        "points (* significant, Holm, α=0.05). circ / crop: shift consistency, "
        "same class under two random circular / crop shifts. Training-step "
        "times per configuration: the report's Speed section."
    )
    table.caption_justify = "left"
    return table


def render_results(results: Results, console: Console | None = None) -> None:
    """Print the table, the verdicts (grouped by metric) and any failed runs."""

    console = console or Console()
    console.print(results_table(results))
    if results.comparisons:
        console.print(
            f"\n[bold]Verdicts[/] vs {results.baseline} (paired by seed, "
            f"{_test_name(results.test)}, Holm-corrected per metric):"
        )
        for metric in dict.fromkeys(c.metric for c in results.comparisons):
            console.print(f"[bold]{METRICS[metric].label}[/]" if metric in METRICS else metric)
            for c in results.comparisons:
                if c.metric == metric:
                    console.print(f"  • {c.verdict}", markup=False, highlight=False)
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


def _test_name(test: str) -> str:
    return "paired t-test" if test == "t" else "Wilcoxon signed-rank"


def _ci(s: Summary, scale: float = 1.0) -> str:
    if s.n == 0 or not math.isfinite(s.mean):
        return "–"
    if s.n < 2:
        return f"{s.mean * scale:.1f}"
    return f"{s.mean * scale:.1f} [{s.lo * scale:.1f}, {s.hi * scale:.1f}]"


def _pm(s: Summary, scale: float = 1.0) -> str:
    """``97.6 ± 0.4`` (the half-width of the 95% t-interval); the bare mean when n < 2."""
    if s.n == 0 or not math.isfinite(s.mean):
        return "–"
    if s.n < 2 or not math.isfinite(s.hi):
        return f"{s.mean * scale:.1f}"
    return f"{s.mean * scale:.1f} ± {(s.hi - s.mean) * scale:.1f}"


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
