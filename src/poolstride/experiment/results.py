"""Results of a comparison: per-run records, a per-variant summary with CIs, and verdicts.

:class:`Results` is what :func:`poolstride.compare` returns and what ``poolstride compare``
prints. It is built from store records only (:meth:`Results.from_records`), so the same
object can be rebuilt from any run directory later.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from poolstride.experiment.stats import (
    METRICS,
    Comparison,
    Summary,
    compare_to_baseline,
    mean_ci,
)
from poolstride.experiment.store import RunRecord, dumps

#: Scalar metrics summarised per variant (mean and 95% CI over seeds), in table order.
SUMMARY_METRICS = (
    "test_acc",
    "test_loss",
    "shift_consistency_circular",
    "shift_consistency_crop",
    "train_time_s",
    "throughput_sps",
    "params",
    "macs",
    "step_ms",
)
#: Metrics that get paired comparisons and verdicts against the baseline.
VERDICT_METRICS = ("test_acc", "test_loss", "shift_consistency_circular", "shift_consistency_crop")


@dataclass
class Results:
    """A finished comparison.

    Attributes:
        records: every run of the grid (finished and failed), in grid order.
        variants: the variants compared, baseline first among equals as given.
        baseline: the variant others are compared against.
        summary: ``{variant: {metric: Summary}}`` over that variant's finished seeds.
        comparisons: paired comparisons with the baseline, per metric (Holm across variants).
        out: the run directory, when the results were saved.
    """

    records: list[RunRecord]
    variants: tuple[str, ...]
    baseline: str
    test: str = "t"
    summary: dict[str, dict[str, Summary]] = field(default_factory=dict)
    comparisons: list[Comparison] = field(default_factory=list)
    out: Path | None = None

    @classmethod
    def from_records(
        cls,
        records: Sequence[RunRecord],
        variants: Sequence[str] | None = None,
        baseline: str | None = None,
        test: str = "t",
        out: str | Path | None = None,
    ) -> Results:
        """Summaries and verdicts computed from store records (finished ones count)."""
        records = list(records)
        if variants is None:
            variants = list(dict.fromkeys(r.variant for r in records))
        variants = tuple(variants)
        baseline = baseline or (variants[0] if variants else "")
        finished = [r for r in records if r.finished]
        values: dict[str, dict[str, dict[int, float]]] = {
            m: {v: {} for v in variants} for m in SUMMARY_METRICS
        }
        for r in finished:
            if r.variant not in variants:
                continue
            for m in SUMMARY_METRICS:
                value = r.metrics.get(m)
                if isinstance(value, (int, float)) and value is not None:
                    values[m][r.variant][r.seed] = float(value)
        summary = {
            v: {m: mean_ci(list(values[m][v].values())) for m in SUMMARY_METRICS} for v in variants
        }
        comparisons: list[Comparison] = []
        has_base = baseline in variants and len(values["test_acc"][baseline]) > 0
        if has_base and len(variants) > 1:
            for m in VERDICT_METRICS:
                comparisons += compare_to_baseline(values[m], baseline, m, test)
        return cls(
            records,
            variants,
            baseline,
            test,
            summary,
            comparisons,
            Path(out) if out is not None else None,
        )

    # -- views -------------------------------------------------------------------------
    @property
    def finished(self) -> list[RunRecord]:
        return [r for r in self.records if r.finished]

    @property
    def failed(self) -> list[RunRecord]:
        return [r for r in self.records if not r.finished]

    @property
    def verdicts(self) -> list[str]:
        """Plain-words verdicts, test accuracy first."""
        return [c.verdict for c in self.comparisons]

    def verdicts_for(self, metric: str) -> list[str]:
        return [c.verdict for c in self.comparisons if c.metric == metric]

    def n_seeds(self, variant: str) -> int:
        return self.summary.get(variant, {}).get("test_acc", mean_ci([])).n

    def summary_rows(self) -> list[dict[str, Any]]:
        """One flat dict per variant: ``n``, then ``<metric>_mean/_lo/_hi`` for each metric."""
        rows = []
        for v in self.variants:
            row: dict[str, Any] = {
                "variant": v,
                "n": self.n_seeds(v),
                "baseline": v == self.baseline,
            }
            for m, s in self.summary.get(v, {}).items():
                row[f"{m}_mean"], row[f"{m}_lo"], row[f"{m}_hi"] = s.mean, s.lo, s.hi
            rows.append(row)
        return rows

    def run_rows(self) -> list[dict[str, Any]]:
        """One flat dict per run: key, status, variant, seed, reason and scalar metrics."""
        rows = []
        for r in self.records:
            row: dict[str, Any] = {
                "key": r.key,
                "status": r.status,
                "variant": r.variant,
                "seed": r.seed,
                "reason": r.reason,
            }
            for name, value in r.metrics.items():
                if isinstance(value, (int, float, str)) or value is None:
                    row[name] = value
            rows.append(row)
        return rows

    def to_pandas(self):
        """Per-run records as a pandas DataFrame (scalar metrics only; needs pandas)."""
        try:
            import pandas as pd
        except ImportError:
            from poolstride.errors import PoolstrideError

            raise PoolstrideError("to_pandas() needs pandas: pip install pandas") from None
        return pd.DataFrame(self.run_rows())

    def to_dict(self) -> dict[str, Any]:
        return {
            "variants": list(self.variants),
            "baseline": self.baseline,
            "test": self.test,
            "summary": {
                v: {m: s.to_dict() for m, s in ms.items()} for v, ms in self.summary.items()
            },
            "comparisons": [c.to_dict() for c in self.comparisons],
            "verdicts": self.verdicts,
            "runs": [r.to_dict() for r in self.records],
        }

    def save(self, out: str | Path) -> list[Path]:
        """Write ``results.json`` (everything), ``results.csv`` (per run) and
        ``summary.csv`` (per variant) into ``out``; return the paths."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        paths = [out / "results.json", out / "results.csv", out / "summary.csv"]
        paths[0].write_text(json.dumps(json.loads(dumps(self.to_dict())), indent=1) + "\n")
        _write_csv(paths[1], self.run_rows())
        _write_csv(paths[2], self.summary_rows())
        self.out = out
        return paths

    # -- display -----------------------------------------------------------------------
    def table(self):
        """A rich Table: one row per variant, mean ± 95% CI half-width over seeds."""
        from rich.table import Table

        n_all = sorted({self.n_seeds(v) for v in self.variants})
        n_text = f"n={n_all[0]}" if len(n_all) == 1 else "n varies"
        from rich import box

        table = Table(
            title=f"mean ± 95% CI over seeds ({n_text}); baseline: {self.baseline}",
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
        deltas = {c.variant: c for c in self.comparisons if c.metric == "test_acc"}
        for v in self.variants:
            s = self.summary.get(v, {})
            if not s or s["test_acc"].n == 0:
                table.add_row(v, "0", "failed", "", "", "", "", "", "")
                continue
            d = deltas.get(v)
            delta = (
                "base"
                if v == self.baseline
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

    def render(self, console=None) -> None:
        """Print the table, the verdicts (grouped by metric) and any failed runs."""
        from rich.console import Console

        console = console or Console()
        console.print(self.table())
        if self.comparisons:
            console.print(
                f"\n[bold]Verdicts[/] vs {self.baseline} (paired by seed, "
                f"{_test_name(self.test)}, Holm-corrected per metric):"
            )
            for metric in dict.fromkeys(c.metric for c in self.comparisons):
                console.print(f"[bold]{METRICS[metric].label}[/]" if metric in METRICS else metric)
                for c in self.comparisons:
                    if c.metric == metric:
                        console.print(f"  • {c.verdict}", markup=False, highlight=False)
        for r in self.failed:
            console.print(f"[red]failed:[/] {r.variant} seed {r.seed}: {r.reason}", highlight=False)
        if self.out is not None:
            console.print(
                f"\nresults in {self.out}/ (runs.sqlite, results.json, results.csv, summary.csv)"
            )

    def __str__(self) -> str:
        from rich.console import Console

        console = Console(width=120, record=True, file=_Null(), color_system=None)
        self.render(console)
        return console.export_text()

    def __repr__(self) -> str:
        return (
            f"Results(variants={list(self.variants)}, baseline={self.baseline!r}, "
            f"runs={len(self.finished)} finished/{len(self.records)})"
        )

    def _repr_html_(self) -> str:
        """The report's summary (verdicts and results table), for notebooks."""
        from poolstride.report import summary_html

        return summary_html(self)


class _Null:
    def write(self, _text):
        return 0

    def flush(self):
        pass


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


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _csv_value(row.get(k)) for k in columns})


def _csv_value(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return ""
    return "" if value is None else value


__all__ = ["METRICS", "Results", "SUMMARY_METRICS", "VERDICT_METRICS"]
