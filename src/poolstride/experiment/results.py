"""Results of a comparison: per-run records, a per-variant summary with CIs, and verdicts.

:class:`Results` is what :func:`poolstride.compare` returns and what ``poolstride compare``
prints. It is built from store records only (:meth:`Results.from_records`), so the same
object can be rebuilt from any run directory later.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from poolstride.errors import PoolstrideError
from poolstride.experiment.sequential import Design, sequential_family
from poolstride.experiment.stats import (
    METRICS,
    NOT_TESTED,
    VERDICT_KINDS,
    Comparison,
    Summary,
    Verdict,
    bootstrap_ci,
    compare_to_baseline,
    decide_family,
    default_margin,
    describe,
    mean_ci,
    paired_diffs,
    parse_margins,
    prob_improvement,
    seeds_needed,
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
#: The metric that decides which variants get more seeds under ``--seeds auto``.
PRIMARY_METRIC = "test_acc"


def margins_of(margin: Any = None) -> dict[str, float | None]:
    """Every verdict metric's margin in stored units: the defaults, overridden by ``margin``
    (what ``--margin`` takes: ``0.5``, ``"test_acc=0.5,test_loss=0.02"``, a mapping)."""
    out = {m: default_margin(m) for m in VERDICT_METRICS}
    out.update(parse_margins(margin))
    return out


def verdict_options(grid: Any) -> dict[str, Any]:
    """``margin`` and ``design`` for :meth:`Results.from_records` from a grid's config (a
    :class:`~poolstride.experiment.config.CompareConfig` or its ``config.yaml`` mapping):
    ``seeds: auto`` means the sequential design with the grid's ``max_seeds``."""
    get = grid.get if isinstance(grid, dict) else lambda k, d=None: getattr(grid, k, d)
    design = None
    if str(get("seeds", "")) == "auto":
        design = auto_design(int(get("max_seeds", 10) or 10))
    return {"margin": get("margin", None), "design": design}


def auto_design(max_seeds: int = 10) -> Design:
    """The design of ``--seeds auto``: looks after 3, 4, ... seeds up to ``max_seeds``."""
    return Design(first=min(3, max_seeds), step=1, max_seeds=max_seeds)


@dataclass
class Results:
    """A finished comparison.

    Attributes:
        records: every run of the grid (finished and failed), in grid order.
        variants: the variants compared, baseline first among equals as given.
        baseline: the variant others are compared against.
        summary: ``{variant: {metric: Summary}}`` over that variant's finished seeds.
        comparisons: paired comparisons with the baseline, per metric (Holm across variants);
            their ``verdict`` is the four-way sentence of :attr:`decisions`.
        decisions: ``{metric: {variant: Verdict}}``: better / worse / equivalent within the
            margin / undecided / not tested, with the CI of the difference, raw and
            Holm-adjusted p-values (difference and TOST) and the seeds used (``n``).
        margins: each verdict metric's margin (stored units; accuracy 0.005 = 0.5 points).
        design: the sequential design when seeds were added until decided (``--seeds
            auto``); ``None`` for a fixed number of seeds.
        details: per variant, for test accuracy: ``bootstrap`` (BCa interval of the mean
            paired difference), ``p_improvement`` (share of seeds where the variant beats
            the baseline), ``sd`` of the paired differences and ``seeds_needed`` (seeds a
            fixed design would need to resolve the margin at that SD).
        auto: what the seeds-until-decided loop did (rounds, stop reason, wall time), when
            it ran (:mod:`poolstride.experiment.adaptive`).
        out: the run directory, when the results were saved.
    """

    records: list[RunRecord]
    variants: tuple[str, ...]
    baseline: str
    test: str = "t"
    summary: dict[str, dict[str, Summary]] = field(default_factory=dict)
    comparisons: list[Comparison] = field(default_factory=list)
    out: Path | None = None
    decisions: dict[str, dict[str, Verdict]] = field(default_factory=dict)
    margins: dict[str, float | None] = field(default_factory=margins_of)
    design: Design | None = None
    details: dict[str, dict[str, Any]] = field(default_factory=dict)
    auto: Any = None

    @classmethod
    def from_records(
        cls,
        records: Sequence[RunRecord],
        variants: Sequence[str] | None = None,
        baseline: str | None = None,
        test: str = "t",
        out: str | Path | None = None,
        margin: Any = None,
        design: Design | None = None,
    ) -> Results:
        """Summaries and verdicts computed from store records (finished ones count).

        ``margin``: as ``--margin`` takes it (default margins otherwise). ``design``: the
        sequential design of a ``--seeds auto`` run (its verdicts then use the
        group-sequential boundaries, looking at seeds 0, 1, ... in order), else ``None``.
        """
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
        margins = margins_of(margin)
        decisions: dict[str, dict[str, Verdict]] = {}
        details: dict[str, dict[str, Any]] = {}
        has_base = baseline in variants and len(values["test_acc"][baseline]) > 0
        if has_base and len(variants) > 1:
            for m in VERDICT_METRICS:
                decisions[m] = _decide(values[m], baseline, m, margins[m], design)
                for c in compare_to_baseline(values[m], baseline, m, test):
                    text = describe(decisions[m][c.variant], m, c.variant, baseline)
                    comparisons.append(dataclasses.replace(c, verdict=text))
            details = _details(values["test_acc"], baseline, margins["test_acc"], design)
        return cls(
            records,
            variants,
            baseline,
            test,
            summary,
            comparisons,
            Path(out) if out is not None else None,
            decisions,
            margins,
            design,
            details,
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
        """Plain-words verdicts: per metric (test accuracy first) better, worse, equivalent,
        undecided; then, once per variant, the comparisons that could not be tested."""
        out = [s for m in self.decisions for s in self.verdicts_for(m)]
        return out + self.untested_sentences()

    def verdicts_for(self, metric: str) -> list[str]:
        """``metric``'s verdict sentences, decided ones first (untested variants left out:
        :meth:`untested_sentences` says them once)."""
        return [describe(v, metric, name, self.baseline) for name, v in self.ordered(metric)]

    def ordered(self, metric: str) -> list[tuple[str, Verdict]]:
        """``(variant, Verdict)`` of ``metric`` by outcome (better, worse, equivalent,
        undecided, not tested), variants of a tested comparison only."""
        got = self.decisions.get(metric, {})
        skip = self.untested
        rows = [(v, d) for v, d in got.items() if v not in skip]
        return sorted(rows, key=lambda item: VERDICT_KINDS.index(item[1].kind))

    def verdict(self, variant: str, metric: str = "test_acc") -> Verdict | None:
        """The :class:`~poolstride.experiment.stats.Verdict` of ``variant`` vs the baseline."""
        return self.decisions.get(metric, {}).get(variant)

    @property
    def untested(self) -> dict[str, int]:
        """Variants whose test-accuracy comparison could not be tested (fewer than 2
        complete seed pairs), with their number of pairs."""
        if not self.decisions:
            return {}
        first = self.decisions.get(PRIMARY_METRIC) or next(iter(self.decisions.values()))
        return {v: d.n for v, d in first.items() if d.kind == NOT_TESTED}

    def untested_sentences(self) -> list[str]:
        """One sentence per untested variant (never a tie: it was not compared at all)."""
        return [
            f"{v} vs {self.baseline}: not tested (n={n}; a comparison needs at least 2 "
            "paired seeds)"
            for v, n in self.untested.items()
        ]

    def seeds_used(self) -> dict[str, int]:
        """Finished seeds per variant (what a ``--seeds auto`` run spent)."""
        return {v: self.n_seeds(v) for v in self.variants}

    def verdict_rows(self) -> list[dict[str, Any]]:
        """One flat dict per (metric, variant) comparison: the verdict, the difference with
        its CI, the margin, p-values (raw and Holm-adjusted; TOST), seeds used, and for
        test accuracy the bootstrap interval, P(improvement) and the seeds a fixed design
        would need."""
        rows = []
        for m, by_variant in self.decisions.items():
            for v, d in by_variant.items():
                row: dict[str, Any] = {"metric": m, "variant": v, "baseline": self.baseline}
                row.update(d.to_dict())
                row["seeds"] = self.n_seeds(v)
                if m == PRIMARY_METRIC and v in self.details:
                    det = self.details[v]
                    boot = det["bootstrap"]
                    row.update(
                        bootstrap_lo=boot.lo,
                        bootstrap_hi=boot.hi,
                        bootstrap_method=boot.method,
                        p_improvement=det["p_improvement"],
                        sd=det["sd"],
                        seeds_needed=det["seeds_needed"],
                    )
                rows.append(row)
        return rows

    def n_seeds(self, variant: str) -> int:
        return self.summary.get(variant, {}).get("test_acc", mean_ci([])).n

    def summary_rows(self) -> list[dict[str, Any]]:
        """One flat dict per variant: ``n``, test accuracy's verdict against the baseline,
        then ``<metric>_mean/_lo/_hi`` for each metric."""
        rows = []
        for v in self.variants:
            d = self.verdict(v)
            row: dict[str, Any] = {
                "variant": v,
                "n": self.n_seeds(v),
                "baseline": v == self.baseline,
                "test_acc_verdict": d.kind if d is not None else "",
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
            "margins": dict(self.margins),
            "design": dataclasses.asdict(self.design) if self.design is not None else None,
            "decisions": self.verdict_rows(),
            "verdicts": self.verdicts,
            "auto": self.auto.to_dict() if self.auto is not None else None,
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


def _decide(
    per_variant: dict[str, dict[int, float]],
    baseline: str,
    metric: str,
    margin: float | None,
    design: Design | None,
) -> dict[str, Verdict]:
    """Four-way verdicts of one metric's family: fixed-n (t-test + TOST, Holm) or, with a
    ``design``, group-sequential over the seeds in order (at most ``max_seeds`` pairs)."""
    spec = METRICS.get(metric)
    hib = spec.higher_is_better if spec is not None else True
    diffs = paired_diffs(per_variant, baseline)
    if design is None:
        return decide_family(diffs, margin, 0.05, hib)
    diffs = {v: d[: design.max_seeds] for v, d in diffs.items()}
    return sequential_family(diffs, margin, design, hib)


def _details(
    per_variant: dict[str, dict[int, float]],
    baseline: str,
    margin: float | None,
    design: Design | None,
) -> dict[str, dict[str, Any]]:
    """Bootstrap interval, probability of improvement and seeds needed, per variant."""
    out: dict[str, dict[str, Any]] = {}
    base = per_variant.get(baseline, {})
    for v, values in per_variant.items():
        if v == baseline:
            continue
        seeds = sorted(set(values) & set(base))
        if design is not None:
            seeds = seeds[: design.max_seeds]
        a, b = [values[s] for s in seeds], [base[s] for s in seeds]
        d = [x - y for x, y in zip(a, b) if math.isfinite(x - y)]
        sd = mean_ci(d).std
        needed = seeds_needed(sd, margin) if margin is not None and len(d) >= 2 and sd > 0 else None
        out[v] = {
            "bootstrap": bootstrap_ci(d),
            "p_improvement": prob_improvement(a, b) if a else math.nan,
            "sd": sd,
            "seeds_needed": needed,
        }
    return out


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


__all__ = [
    "METRICS",
    "PRIMARY_METRIC",
    "Results",
    "SUMMARY_METRICS",
    "VERDICT_METRICS",
    "auto_design",
    "margins_of",
    "verdict_options",
]
