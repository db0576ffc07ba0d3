"""Statistics over seeds: means with t-intervals, paired tests, Holm correction, verdicts.

Two kinds of verdict live here: the original significance sentence (:func:`verdict`,
:func:`compare_to_baseline`) and the four-way decision -- better / worse / equivalent
within a practical margin / undecided, or not tested (:class:`Verdict`,
:func:`decide_family`, :func:`verdicts_vs_baseline`, :func:`describe`) -- with TOST,
bootstrap intervals, the probability of improvement and the seeds a fixed design needs.
The sequential (seeds-until-decided) version of the four-way decision is in
:mod:`poolstride.experiment.sequential`.

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
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import special
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
        return asdict(self)


def mean_ci(values: Sequence[float], confidence: float = 0.95) -> Summary:
    """Mean and ``confidence`` t-interval of ``values`` (NaN interval when ``n < 2``):
    ``scipy.stats.ttest_1samp(values, 0).confidence_interval(confidence)``."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    n = int(x.size)
    if n == 0:
        return Summary(math.nan, math.nan, math.nan, math.nan, 0)
    mean = float(x.mean())
    if n == 1:
        return Summary(mean, math.nan, math.nan, math.nan, 1)
    ci = _quietly(sps.ttest_1samp, x, 0.0).confidence_interval(confidence)
    return Summary(mean, float(ci.low), float(ci.high), float(x.std(ddof=1)), n)


def _quietly(test, *samples):
    """``test(*samples)`` without scipy's precision warning for constant samples (whose
    interval is the point itself, and whose p-value the callers decide)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Precision loss", RuntimeWarning)
        return test(*samples)


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
    t-interval of the differences (``ttest_rel(a, b).confidence_interval(confidence)``). Pairs
    with a non-finite value are dropped.
    """
    if test not in ("t", "wilcoxon"):
        raise unknown("test", test, ("t", "wilcoxon"))
    a_arr, b_arr = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a_arr.shape != b_arr.shape:
        raise PoolstrideError(f"paired samples differ in length: {a_arr.size} vs {b_arr.size}")
    keep = np.isfinite(a_arr) & np.isfinite(b_arr)
    d = a_arr[keep] - b_arr[keep]
    n = int(d.size)
    if n < 2:
        mean = float(d.mean()) if n else math.nan
        return Paired(mean, math.nan, math.nan, math.nan, n, test)
    result = _quietly(sps.ttest_rel, a_arr[keep], b_arr[keep])
    ci = result.confidence_interval(confidence)
    if np.all(d == 0):
        p = 1.0
    elif test == "t":
        # a constant non-zero difference: t = ±inf, p = 0 (scipy's value, without its warning)
        p = 0.0 if float(d.std()) == 0 else float(result.pvalue)
    else:
        p = float(sps.wilcoxon(d).pvalue)
    return Paired(float(d.mean()), float(ci.low), float(ci.high), p, n, test)


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
    #: practical margin in stored units: differences inside ±margin are "equivalent"
    #: (None: no equivalence test; verdicts are better / worse / undecided only)
    margin: float | None = None


#: Metrics compared in verdicts (in order). Accuracies are stored as fractions and shown in
#: percentage points.
METRICS: dict[str, MetricSpec] = {
    spec.name: spec
    for spec in (
        MetricSpec(
            "test_acc",
            "test accuracy",
            True,
            "more accurate",
            "less accurate",
            100.0,
            " points",
            margin=0.005,
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
            margin=0.01,
        ),
        MetricSpec(
            "shift_consistency_circular",
            "circular-shift consistency",
            True,
            "more shift-consistent",
            "less shift-consistent",
            100.0,
            " points",
            margin=0.005,
        ),
        MetricSpec(
            "shift_consistency_crop",
            "crop-shift consistency",
            True,
            "more shift-consistent",
            "less shift-consistent",
            100.0,
            " points",
            margin=0.005,
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


# --- four-way verdicts: better / worse / equivalent within ±margin / undecided ----------
#
# Default margins (``MetricSpec.margin``, stored units): accuracy and both shift
# consistencies 0.005 (0.5 points); test loss 0.01 nats -- a change of 0.01 in the mean
# cross-entropy multiplies the geometric-mean probability given to the true class by
# exp(0.01) ≈ 1.01, a 1% change, which at the ≈ 0.07-nat losses of MNIST-1D is about what a
# 0.5-point accuracy change moves; training time has none (wall time depends on the
# machine, so "equivalent" would not carry over).

BETTER, WORSE, EQUIVALENT, UNDECIDED, NOT_TESTED = (
    "better",
    "worse",
    "equivalent",
    "undecided",
    "not tested",
)
VERDICT_KINDS = (BETTER, WORSE, EQUIVALENT, UNDECIDED, NOT_TESTED)


def default_margin(metric: str) -> float | None:
    """The practical margin of ``metric`` in stored units (None: no equivalence test)."""
    spec = METRICS.get(metric)
    return spec.margin if spec is not None else None


#: Short names accepted by :func:`parse_margins` (``--margin acc=0.5,loss=0.02``).
MARGIN_ALIASES = {
    "acc": "test_acc",
    "accuracy": "test_acc",
    "loss": "test_loss",
    "circ": "shift_consistency_circular",
    "crop": "shift_consistency_crop",
}


def parse_margins(text: str | float | int | Mapping[str, Any] | None) -> dict[str, float]:
    """Margins in stored units from what a user writes, in *display* units.

    ``0.5`` or ``"0.5"``: test accuracy within ±0.5 points; ``"test_acc=0.5,test_loss=0.02"``
    (or a mapping, e.g. from YAML; ``acc``, ``loss``, ``circ``, ``crop`` also work): per
    metric, points for accuracies and consistencies, nats for the loss. Metrics not named
    keep their default (:func:`default_margin`); ``None`` or ``""`` gives ``{}``.
    """
    if text is None:
        return {}
    if isinstance(text, bool):
        raise PoolstrideError(
            f"cannot read margin {text!r}; e.g. 0.5 or test_acc=0.5,test_loss=0.01"
        )
    if isinstance(text, (int, float)):
        items: list[tuple[str, Any]] = [("test_acc", text)]
    elif isinstance(text, Mapping):
        items = list(text.items())
    else:
        parts = [p.strip() for p in str(text).split(",") if p.strip()]
        items = []
        for part in parts:
            name, eq, value = part.partition("=")
            items.append((name.strip(), value.strip()) if eq else ("test_acc", name.strip()))
    out: dict[str, float] = {}
    for name, value in items:
        metric = MARGIN_ALIASES.get(str(name).strip().lower(), str(name).strip().lower())
        spec = METRICS.get(metric)
        if spec is None or spec.margin is None:
            valid = sorted(m for m, s in METRICS.items() if s.margin is not None)
            raise unknown("margin metric", str(name), valid + sorted(MARGIN_ALIASES))
        try:
            shown = float(value)
        except (TypeError, ValueError):
            raise PoolstrideError(
                f"cannot read margin {value!r} for {metric}; give a positive number"
            ) from None
        if not (math.isfinite(shown) and shown > 0):
            raise PoolstrideError(f"margin for {metric} must be a positive number, got {value!r}")
        out[metric] = shown / spec.scale
    return out


def margin_text(metric: str, margin: float | None) -> str:
    """``"±0.5 points"`` (display units), ``"none"`` without a margin."""
    spec = METRICS.get(metric) or MetricSpec(metric, metric, True, "higher", "lower")
    if margin is None:
        return "none"
    return f"±{margin * spec.scale:.4g}{spec.unit}"


@dataclass(frozen=True)
class Verdict:
    """The decision on one paired comparison ``variant - baseline`` over ``n`` seeds.

    ``kind`` is one of :data:`VERDICT_KINDS`:

    - ``"better"`` / ``"worse"``: the two-sided test of "no difference" rejects after Holm
      (``p_adj < alpha``) and the difference is not inside the margin, in the direction
      that is better / worse for the metric (``higher_is_better``);
    - ``"equivalent"``: TOST rejects "|difference| ≥ margin" after Holm
      (``p_equiv_adj < alpha``). A difference that is significant *and* inside the margin
      (``significant`` is True) is also "equivalent": real but smaller than what matters
      (Lakens, Scheel & Isager 2018);
    - ``"undecided"``: neither; more seeds would be needed;
    - ``"not tested"``: fewer than 2 complete pairs -- never read as a tie.

    ``lo, hi``: the 95% interval of the mean difference (a t-interval for a fixed design;
    the repeated confidence interval of the group-sequential design for sequential
    verdicts). ``p`` / ``p_equiv``: the raw two-sided p-value and the TOST p-value
    (``max`` of the two one-sided p-values); ``*_adj`` their Holm-adjusted values over the
    family (NaN when not computed). ``decided_at``: the seed count at which the verdict was
    reached (sequential designs); ``capped``: undecided at the seed cap. ``method`` says
    which procedure produced it.
    """

    kind: str
    diff: float
    lo: float
    hi: float
    n: int
    margin: float | None
    p: float
    p_adj: float
    p_equiv: float
    p_equiv_adj: float
    significant: bool
    method: str
    decided_at: int | None = None
    capped: bool = False

    @property
    def decided(self) -> bool:
        return self.kind in (BETTER, WORSE, EQUIVALENT)

    def to_dict(self) -> dict:
        return {
            "verdict": self.kind,
            "diff": self.diff,
            "lo": self.lo,
            "hi": self.hi,
            "n": self.n,
            "margin": self.margin,
            "p": self.p,
            "p_adj": self.p_adj,
            "p_equiv": self.p_equiv,
            "p_equiv_adj": self.p_equiv_adj,
            "significant": self.significant,
            "method": self.method,
            "decided_at": self.decided_at,
            "capped": self.capped,
        }


def _finite(values: Sequence[float]) -> np.ndarray:
    x = np.asarray(values, dtype=float).ravel()
    return x[np.isfinite(x)]


def _check_margin(margin: float | None) -> None:
    if margin is not None and not (math.isfinite(margin) and margin > 0):
        raise PoolstrideError(f"margin must be a positive number, got {margin!r}")


def _check_alpha(alpha: float) -> None:
    if not 0 < alpha < 1:
        raise PoolstrideError(f"alpha must be between 0 and 1, got {alpha!r}")


@dataclass(frozen=True)
class Tost:
    """Two one-sided t-tests of ``|mean| ≥ margin``: ``p = max(p_lower, p_upper)``."""

    p_lower: float  # H0: mean ≤ -margin  vs  mean > -margin
    p_upper: float  # H0: mean ≥ +margin  vs  mean < +margin
    p: float
    n: int


def tost(diffs: Sequence[float], margin: float) -> Tost:
    """TOST (Schuirmann 1987) on paired differences for equivalence within ``±margin``.

    Each side is ``scipy.stats.ttest_1samp`` with a one-sided ``alternative``; the TOST
    p-value is the larger of the two (intersection-union test: equivalence at level α is
    claimed when both reject at α, i.e. the 1 − 2α t-interval lies inside ±margin).
    Non-finite differences are dropped. ``n < 2``: NaN. Constant differences (zero
    variance): each side is 0 when the constant lies strictly inside the margin on that
    side, else 1.
    """
    _check_margin(margin)
    if margin is None:
        raise PoolstrideError("tost needs a margin")
    d = _finite(diffs)
    n = int(d.size)
    if n < 2:
        return Tost(math.nan, math.nan, math.nan, n)
    if np.all(d == d[0]):
        lo_p = 0.0 if d[0] > -margin else 1.0
        up_p = 0.0 if d[0] < margin else 1.0
    else:
        lo_p = float(sps.ttest_1samp(d, -margin, alternative="greater").pvalue)
        up_p = float(sps.ttest_1samp(d, margin, alternative="less").pvalue)
    return Tost(lo_p, up_p, max(lo_p, up_p), n)


def _two_sided_p(d: np.ndarray) -> float:
    """Two-sided one-sample t-test of mean 0, with :func:`paired_test`'s edge cases."""
    if d.size < 2:
        return math.nan
    if np.all(d == 0):
        return 1.0
    if np.all(d == d[0]):
        return 0.0
    return float(sps.ttest_1samp(d, 0.0).pvalue)


def _classify(
    diff: float,
    sig: bool,
    equiv: bool,
    higher_is_better: bool,
) -> str:
    if equiv:
        return EQUIVALENT
    if sig:
        return BETTER if (diff > 0) == higher_is_better else WORSE
    return UNDECIDED


def decide_family(
    diffs: dict[str, Sequence[float]],
    margin: float | None,
    alpha: float = 0.05,
    higher_is_better: bool = True,
) -> dict[str, Verdict]:
    """Four-way verdicts for a family of paired comparisons at a fixed number of seeds.

    ``diffs`` maps each variant to its paired differences ``variant - baseline`` (one per
    seed). Per comparison: the two-sided paired t-test of "no difference" and TOST within
    ``±margin`` (:func:`tost`). Multiplicity: Holm (:func:`holm`) over the family, once for
    the two-sided p-values (false "better"/"worse" claims: familywise error ≤ ``alpha``) and
    once for the TOST p-values ``max(p_lower, p_upper)`` (false "equivalent" claims:
    familywise error ≤ ``alpha``). Comparisons with fewer than 2 pairs are "not tested" and
    are not counted in the family. ``lo, hi`` is the 95% t-interval of the mean difference.
    """
    _check_margin(margin)
    _check_alpha(alpha)
    names = list(diffs)
    arrays = [_finite(diffs[v]) for v in names]
    p_sup = [_two_sided_p(d) for d in arrays]
    p_eq = [tost(d, margin).p if margin is not None else math.nan for d in arrays]
    adj_sup, adj_eq = holm(p_sup), holm(p_eq)
    out = {}
    for v, d, p, pa, q, qa in zip(names, arrays, p_sup, adj_sup, p_eq, adj_eq):
        s = mean_ci(d, 1 - alpha)
        if s.n < 2:
            kind, sig = NOT_TESTED, False
        else:
            sig = pa < alpha
            kind = _classify(s.mean, sig, qa < alpha, higher_is_better)
        out[v] = Verdict(
            kind, s.mean, s.lo, s.hi, s.n, margin, p, pa, q, qa, sig, "paired t + TOST, fixed n"
        )
    return out


def decide(
    diffs: Sequence[float],
    margin: float | None,
    alpha: float = 0.05,
    higher_is_better: bool = True,
) -> Verdict:
    """Four-way verdict of one comparison (a family of one: no multiplicity adjustment)."""
    return decide_family({"_": diffs}, margin, alpha, higher_is_better)["_"]


def paired_diffs(per_variant: dict[str, dict[int, float]], baseline: str) -> dict[str, list[float]]:
    """``variant -> [variant - baseline]`` over the seeds both have finished (seed order).

    ``per_variant`` maps variant -> {seed: value}, as :func:`compare_to_baseline` takes.
    Non-finite values drop their pair. The baseline itself is left out.
    """
    if baseline not in per_variant:
        raise PoolstrideError(f"baseline {baseline!r} has no finished runs")
    base = per_variant[baseline]
    out = {}
    for variant, values in per_variant.items():
        if variant == baseline:
            continue
        seeds = sorted(set(values) & set(base))
        d = [values[s] - base[s] for s in seeds]
        out[variant] = [x for x in d if math.isfinite(x)]
    return out


def verdicts_vs_baseline(
    per_variant: dict[str, dict[int, float]],
    baseline: str,
    metric: str,
    margin: float | None = None,
    alpha: float = 0.05,
) -> dict[str, Verdict]:
    """:func:`decide_family` over every variant against ``baseline`` on ``metric``.

    ``margin=None`` takes the metric's default (:func:`default_margin`); the direction of
    "better" comes from the metric's :class:`MetricSpec`.
    """
    spec = METRICS.get(metric)
    if margin is None:
        margin = default_margin(metric)
    hib = spec.higher_is_better if spec is not None else True
    return decide_family(paired_diffs(per_variant, baseline), margin, alpha, hib)


def describe(verdict: Verdict, metric: str, variant: str, baseline: str) -> str:
    """One sentence for a :class:`Verdict`, the margin and n always stated.

    ``"subsample is worse than max: 2.7 points less accurate (95% CI 2.2–3.2, p=0.001,
    n=5)"`` (the interval of the size, in the direction stated), ``"conv is equivalent to
    max on test accuracy within ±0.5 points (difference +0.1, 95% CI −0.2 to 0.4, n=8)"``,
    ``"avg vs max, test accuracy: undecided (difference −0.3, 95% CI −1.1 to 0.5, margin
    ±0.5 points, n=10, seed cap reached)"``, ``"conv vs max, test accuracy: not tested
    (n=1)"``.
    """
    spec = METRICS.get(metric) or MetricSpec(metric, metric, True, "higher", "lower")
    fmt = f"{{:.{spec.digits}f}}"
    n = verdict.n
    if verdict.kind == NOT_TESTED:
        return f"{variant} vs {baseline}, {spec.label}: not tested (n={n})"

    def num(x: float, signed: bool = False) -> str:
        text = (f"{{:+.{spec.digits}f}}" if signed else fmt).format(x * spec.scale)
        return text.replace("-", "−")

    ci = f"95% CI {num(verdict.lo)} to {num(verdict.hi)}"
    margin = f"±{num(verdict.margin)}{spec.unit}" if verdict.margin is not None else "no margin"
    if verdict.kind in (BETTER, WORSE):
        words = spec.better if (verdict.diff > 0) == spec.higher_is_better else spec.worse
        # the interval of the size, in the direction stated ("2.7 points less accurate")
        sign = 1.0 if verdict.diff > 0 else -1.0
        lo, hi = sorted((sign * verdict.lo, sign * verdict.hi))
        size_ci = f"95% CI {num(lo)}–{num(hi)}"
        return (
            f"{variant} is {verdict.kind} than {baseline}: {num(abs(verdict.diff))}{spec.unit} "
            f"{words} ({size_ci}, {format_p(verdict.p_adj)}, n={n})"
        )
    if verdict.kind == EQUIVALENT:
        return (
            f"{variant} is equivalent to {baseline} on {spec.label} within {margin} "
            f"(difference {num(verdict.diff, True)}, {ci}, n={n})"
        )
    cap = ", seed cap reached" if verdict.capped else ""
    return (
        f"{variant} vs {baseline}, {spec.label}: undecided (difference "
        f"{num(verdict.diff, True)}, {ci}, margin {margin}, n={n}{cap})"
    )


# --- richer interval estimates ----------------------------------------------------------


@dataclass(frozen=True)
class Interval:
    """A point estimate with an interval and the method that produced it."""

    estimate: float
    lo: float
    hi: float
    n: int
    method: str

    def to_dict(self) -> dict:
        return asdict(self)


def bootstrap_ci(
    values: Sequence[float],
    confidence: float = 0.95,
    method: str = "BCa",
    n_resamples: int = 9999,
    seed: int = 0,
) -> Interval:
    """Bootstrap interval of the mean of ``values`` (``scipy.stats.bootstrap``).

    ``method``: ``"BCa"`` (bias-corrected and accelerated) or ``"percentile"``; the
    resampling uses ``numpy.random.default_rng(seed)``, so the interval is deterministic.
    Fallbacks, named in ``method``: ``n < 3`` gives a NaN interval (``"none (n<3)"``: two
    values have only three distinct resamples); zero variance collapses the interval to the
    mean (``"none (zero variance)"``); a BCa interval that comes back NaN (degenerate
    resampling distribution) is replaced by the percentile one (``"percentile (BCa
    degenerate)"``). With few seeds a bootstrap interval is too narrow (it cannot see
    variation the sample lacks): read it beside the t-interval, not instead of it.
    """
    if method not in ("BCa", "percentile"):
        raise unknown("bootstrap method", method, ("BCa", "percentile"))
    x = _finite(values)
    n = int(x.size)
    mean = float(x.mean()) if n else math.nan
    if n < 3:
        return Interval(mean, math.nan, math.nan, n, "none (n<3)")
    if np.all(x == x[0]):
        return Interval(mean, mean, mean, n, "none (zero variance)")

    def run(m: str):
        return sps.bootstrap(
            (x,),
            np.mean,
            confidence_level=confidence,
            n_resamples=n_resamples,
            method=m,
            rng=np.random.default_rng(seed),
        ).confidence_interval

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # DegenerateDataWarning: handled below
        ci = run(method)
        used = method
        if not (math.isfinite(ci.low) and math.isfinite(ci.high)):
            ci, used = run("percentile"), "percentile (BCa degenerate)"
    return Interval(mean, float(ci.low), float(ci.high), n, used)


def prob_improvement(
    a: Sequence[float],
    b: Sequence[float],
    paired: bool = True,
    higher_is_better: bool = True,
) -> float:
    """Probability of improvement P(A > B), ties counting one half.

    ``paired=True`` (seeds paired, as in every comparison here): the share of seeds where
    A beats B, ``mean([a_i > b_i] + ½[a_i = b_i])`` over pairs with both values finite.
    ``paired=False``: rliable's definition (Agarwal et al. 2021), over all ``n·m`` pairs of
    runs -- the Mann-Whitney U statistic of A against B divided by ``n·m``
    (``scipy.stats.mannwhitneyu``, which counts ties one half). ``higher_is_better=False``
    (losses, times): "A > B" means A lower. NaN with no usable pair.
    """
    a_arr, b_arr = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    sign = 1.0 if higher_is_better else -1.0
    if paired:
        if a_arr.shape != b_arr.shape:
            raise PoolstrideError(f"paired samples differ in length: {a_arr.size} vs {b_arr.size}")
        keep = np.isfinite(a_arr) & np.isfinite(b_arr)
        if not keep.any():
            return math.nan
        d = sign * (a_arr[keep] - b_arr[keep])
        return float(np.mean((d > 0) + 0.5 * (d == 0)))
    a_arr, b_arr = _finite(a_arr) * sign, _finite(b_arr) * sign
    if a_arr.size == 0 or b_arr.size == 0:
        return math.nan
    u = sps.mannwhitneyu(a_arr, b_arr, alternative="two-sided").statistic
    return float(u) / (a_arr.size * b_arr.size)


# --- seeds a fixed design needs ---------------------------------------------------------


def power_superiority(n: int, sd: float, true_diff: float, alpha: float = 0.05) -> float:
    """Exact power of the two-sided paired t-test at ``n`` seeds (normal differences).

    ``P(|T| > t(1-α/2, n-1))`` with ``T`` noncentral t, ``n - 1`` degrees of freedom and
    noncentrality ``true_diff·√n / sd`` (``scipy.stats.nct``).
    """
    if n < 2:
        return 0.0
    df = n - 1
    crit = float(sps.t.isf(alpha / 2, df))
    if sd == 0:
        return 1.0 if true_diff != 0 else alpha
    nc = true_diff * math.sqrt(n) / sd
    return float(sps.nct.sf(crit, df, nc) + sps.nct.cdf(-crit, df, nc))


def power_equivalence(
    n: int, sd: float, margin: float, true_diff: float = 0.0, alpha: float = 0.05
) -> float:
    """Exact power of TOST at level ``alpha`` within ``±margin`` at ``n`` seeds.

    TOST claims equivalence when ``|mean ± t(1-α, n-1)·s/√n|`` lies inside ±margin. Given
    the sample SD ``s`` the mean is normal and independent of it, so the power is the
    one-dimensional integral over ``u = s/sd`` (``√((n-1)) u ~ χ(n-1)``) of
    ``Φ((M - c·s/√n - δ)/(sd/√n)) - Φ((-M + c·s/√n - δ)/(sd/√n))`` where positive -- the
    exact expression behind Owen's Q (Owen 1965; Phillips 1990), integrated with
    ``scipy.integrate.quad`` against ``scipy.stats.chi``.
    """
    from scipy import integrate

    if n < 2:
        return 0.0
    df = n - 1
    c = float(sps.t.isf(alpha, df))
    se = sd / math.sqrt(n)
    if sd == 0:
        return 1.0 if abs(true_diff) < margin else 0.0
    # equivalence is possible only while c·s/√n < M, i.e. u < M·√n / (c·sd); the χ density
    # is negligible outside its 1e-12 quantiles, which keeps quad on the mass for any n
    chi = sps.chi(df, scale=1 / math.sqrt(df))
    lo, hi = float(chi.ppf(1e-12)), min(float(chi.isf(1e-12)), margin * math.sqrt(n) / (c * sd))
    if hi <= lo:
        return 0.0

    def integrand(u: float) -> float:
        w = c * u * se
        inside = special.ndtr((margin - w - true_diff) / se) - special.ndtr(
            (-margin + w - true_diff) / se
        )
        return max(0.0, float(inside)) * float(chi.pdf(u))

    val, _ = integrate.quad(integrand, lo, hi, limit=200)
    return float(min(1.0, max(0.0, val)))


def seeds_needed(
    sd: float,
    margin: float,
    true_diff: float = 0.0,
    alpha: float = 0.05,
    power: float = 0.8,
    max_n: int = 10_000,
) -> int | None:
    """Seeds a fixed design needs to resolve ``±margin`` with probability ``power``.

    For ``|true_diff| < margin`` the question is equivalence: the smallest ``n`` whose TOST
    power (:func:`power_equivalence`) reaches ``power``. Otherwise it is detection: the
    smallest ``n`` whose two-sided t-test power (:func:`power_superiority`) reaches it.
    ``sd`` is the seed-to-seed SD of the paired differences (the observed one, in use).
    None when even ``max_n`` is not enough (or the SD is not finite). With the default
    margin of accuracy (0.005) and an SD of 0.005, equivalence at a true difference of 0
    needs 11 seeds; at SD 0.0075, 21.
    """
    _check_alpha(alpha)
    _check_margin(margin)
    if not math.isfinite(sd) or sd < 0:
        return None

    def pw(n: int) -> float:
        if abs(true_diff) < margin:
            return power_equivalence(n, sd, margin, true_diff, alpha)
        return power_superiority(n, sd, true_diff, alpha)

    hi = 2  # power grows with n: double until it is reached, then bisect
    while pw(hi) < power:
        if hi >= max_n:
            return None
        hi = min(2 * hi, max_n)
    lo = max(2, hi // 2)
    while lo < hi:
        mid = (lo + hi) // 2
        if pw(mid) >= power:
            hi = mid
        else:
            lo = mid + 1
    return lo
