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

from poolstride.errors import PoolstrideError
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

    def __repr__(self) -> str:
        return (
            f"Results(variants={list(self.variants)}, baseline={self.baseline!r}, "
            f"runs={len(self.finished)} finished/{len(self.records)})"
        )


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
