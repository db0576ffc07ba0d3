"""Statistics over seeds: means with t-intervals, paired tests, Holm correction, verdicts.

Every number leaves this module with its seed count ``n``. A comparison pairs runs by seed
(variant A seed 3 against baseline seed 3: same data order, different operator), so the
seed-to-seed noise shared by both cancels. Per metric, the p-values of all variants
against the baseline form one family, corrected with Holm's step-down method.

Edge cases, chosen to never overclaim:

- ``n = 1``: the mean is reported, the interval and the p-value are NaN ("cannot test").
- zero variance: the interval collapses to the mean; a paired test whose differences are
  all exactly zero gives ``p = 1`` (no difference at all; scipy returns NaN there); constant
  *non-zero* differences give ``p = 0`` as scipy's ``ttest_rel`` does (t is infinite).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from poolstride.errors import PoolstrideError, unknown


@dataclass(frozen=True)
class Summary:
    """Mean of ``n`` values with the two-sided t-interval ``mean ± t(1-α/2, n-1)·s/√n``."""

    mean: float
    lo: float
    hi: float
    std: float
    n: int

    def to_dict(self) -> dict:
        return {"mean": self.mean, "lo": self.lo, "hi": self.hi, "std": self.std, "n": self.n}


def mean_ci(values: Sequence[float], confidence: float = 0.95) -> Summary:
    """Mean and ``confidence`` t-interval of ``values`` (NaN interval when ``n < 2``)."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    n = int(x.size)
    if n == 0:
        return Summary(math.nan, math.nan, math.nan, math.nan, 0)
    mean = float(x.mean())
    if n == 1:
        return Summary(mean, math.nan, math.nan, math.nan, 1)
    std = float(x.std(ddof=1))
    half = float(sps.t.ppf(0.5 + confidence / 2, n - 1)) * std / math.sqrt(n)
    return Summary(mean, mean - half, mean + half, std, n)


@dataclass(frozen=True)
class Paired:
    """A paired comparison ``a - b`` over ``n`` seeds.

    ``diff`` is the mean difference with its t-interval ``(lo, hi)``; ``p`` the raw two-sided
    p-value of the chosen ``test``; ``p_adj`` the Holm-adjusted one (filled by :func:`holm`
    through :func:`compare_to_baseline`).
    """

    diff: float
    lo: float
    hi: float
    p: float
    n: int
    test: str
    p_adj: float = math.nan

    def to_dict(self) -> dict:
        return {
            "diff": self.diff,
            "lo": self.lo,
            "hi": self.hi,
            "p": self.p,
            "p_adj": self.p_adj,
            "n": self.n,
            "test": self.test,
        }


def paired_test(
    a: Sequence[float], b: Sequence[float], test: str = "t", confidence: float = 0.95
) -> Paired:
    """Paired comparison of ``a`` against ``b`` (same length, position = seed).

    ``test="t"``: paired t-test (``scipy.stats.ttest_rel``); ``"wilcoxon"``: Wilcoxon
    signed-rank (exact for small n, ``scipy.stats.wilcoxon``). The interval is always the
    t-interval of the differences. Pairs with a non-finite value are dropped.
    """
    if test not in ("t", "wilcoxon"):
        raise unknown("test", test, ("t", "wilcoxon"))
    a_arr, b_arr = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a_arr.shape != b_arr.shape:
        raise PoolstrideError(f"paired samples differ in length: {a_arr.size} vs {b_arr.size}")
    keep = np.isfinite(a_arr) & np.isfinite(b_arr)
    d = a_arr[keep] - b_arr[keep]
    s = mean_ci(d, confidence)
    n = s.n
    if n < 2:
        p = math.nan
    elif np.all(d == 0):
        p = 1.0
    elif test == "t":
        if s.std == 0:
            p = 0.0  # constant non-zero difference: t = ±inf (scipy agrees)
        else:
            p = float(sps.ttest_rel(a_arr[keep], b_arr[keep]).pvalue)
    else:
        p = float(sps.wilcoxon(d).pvalue)
    return Paired(s.mean, s.lo, s.hi, p, n, test)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm step-down adjusted p-values (NaNs stay NaN and do not count in the family).

    Sorted ascending ``p(1) ≤ … ≤ p(m)``: ``adj(i) = max_{j ≤ i} min(1, (m - j + 1) p(j))``.
    """
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, math.nan)
    idx = np.flatnonzero(np.isfinite(p))
    m = idx.size
    running = 0.0
    for rank, i in enumerate(idx[np.argsort(p[idx], kind="stable")]):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return [float(v) for v in out]


# --- metrics and verdicts ---------------------------------------------------------------


@dataclass(frozen=True)
class MetricSpec:
    """How a metric is read: its label, scale for display, unit, and which way is better."""

    name: str
    label: str
    higher_is_better: bool
    better: str  # "conv is 4.3 points <better> than max"
    worse: str
    scale: float = 1.0
    unit: str = ""
    digits: int = 1
    verb: str = "is"


#: Metrics compared in verdicts (in order). Accuracies are stored as fractions and shown in
#: percentage points.
METRICS: dict[str, MetricSpec] = {
    spec.name: spec
    for spec in (
        MetricSpec(
            "test_acc", "test accuracy", True, "more accurate", "less accurate", 100.0, " points"
        ),
        MetricSpec(
            "test_loss",
            "test loss",
            False,
            "lower test loss",
            "higher test loss",
            1.0,
            "",
            3,
            "has",
        ),
        MetricSpec(
            "shift_consistency_circular",
            "circular-shift consistency",
            True,
            "more shift-consistent",
            "less shift-consistent",
            100.0,
            " points",
        ),
        MetricSpec(
            "shift_consistency_crop",
            "crop-shift consistency",
            True,
            "more shift-consistent",
            "less shift-consistent",
            100.0,
            " points",
        ),
        MetricSpec(
            "train_time_s",
            "training time",
            False,
            "faster to train",
            "slower to train",
            1.0,
            " s",
            2,
        ),
    )
}


@dataclass(frozen=True)
class Comparison:
    """One variant against the baseline on one metric, with its plain-words verdict."""

    metric: str
    variant: str
    baseline: str
    paired: Paired
    verdict: str
    significant: bool

    def to_dict(self) -> dict:
        return {
            "metric": self.metric,
            "variant": self.variant,
            "baseline": self.baseline,
            **self.paired.to_dict(),
            "significant": self.significant,
            "verdict": self.verdict,
        }


def format_p(p: float) -> str:
    if not math.isfinite(p):
        return "p=n/a"
    # two decimals from 0.1 up; below, three significant digits so that a p just under
    # 0.05 never prints as "0.05" next to a "significant" verdict
    return "p<0.001" if p < 0.001 else f"p={p:.3g}" if p < 0.1 else f"p={p:.2f}"


def verdict(
    metric: str, variant: str, baseline: str, paired: Paired, alpha: float = 0.05
) -> tuple[str, bool]:
    """Plain-words verdict for ``variant - baseline`` on ``metric`` (uses ``p_adj``).

    ``"conv is 4.3 points less accurate than max (95% CI 3.1–5.5, p=0.002, n=5)"`` or
    ``"conv vs max, test accuracy: no significant difference (p=0.41, n=3)"``.
    """
    spec = METRICS.get(metric) or MetricSpec(metric, metric, True, "higher", "lower")
    p = paired.p_adj if math.isfinite(paired.p_adj) else paired.p
    n = paired.n
    if n < 2 or not math.isfinite(p):
        return (
            f"{variant} vs {baseline}, {spec.label}: cannot test with n={n} "
            f"(need at least 2 paired seeds)",
            False,
        )
    if p >= alpha:
        return (
            f"{variant} vs {baseline}, {spec.label}: no significant difference "
            f"({format_p(p)}, n={n})",
            False,
        )
    diff = paired.diff
    words = spec.better if (diff > 0) == spec.higher_is_better else spec.worse
    size = abs(diff) * spec.scale
    # interval of the effect in the direction stated (may cross 0 under Wilcoxon)
    sign = 1.0 if diff > 0 else -1.0
    lo, hi = sorted((sign * paired.lo * spec.scale, sign * paired.hi * spec.scale))
    fmt = f"{{:.{spec.digits}f}}"
    ci = f"95% CI {fmt.format(lo)}–{fmt.format(hi)}"
    text = f"{variant} {spec.verb} {fmt.format(size)}{spec.unit} {words} than {baseline}"
    return f"{text} ({ci}, {format_p(p)}, n={n})", True


def compare_to_baseline(
    per_variant: dict[str, dict[int, float]],
    baseline: str,
    metric: str,
    test: str = "t",
    alpha: float = 0.05,
) -> list[Comparison]:
    """Pair every variant with ``baseline`` by seed on one metric; Holm across variants.

    ``per_variant`` maps variant -> {seed: value}. Only seeds present (and finite) for both
    sides are paired.
    """
    if baseline not in per_variant:
        raise PoolstrideError(f"baseline {baseline!r} has no finished runs")
    base = per_variant[baseline]
    others = [v for v in per_variant if v != baseline]
    raw: list[Paired] = []
    for variant in others:
        seeds = sorted(set(per_variant[variant]) & set(base))
        raw.append(
            paired_test([per_variant[variant][s] for s in seeds], [base[s] for s in seeds], test)
        )
    adjusted = holm([r.p for r in raw])
    out = []
    for variant, r, p_adj in zip(others, raw, adjusted):
        r = Paired(r.diff, r.lo, r.hi, r.p, r.n, r.test, p_adj)
        text, significant = verdict(metric, variant, baseline, r, alpha)
        out.append(Comparison(metric, variant, baseline, r, text, significant))
    return out
