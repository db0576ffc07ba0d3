"""Checking a published claim against measured results, with statistics.

Building blocks for a :class:`~poolstride.reproduce.study.Study`'s ``check``:

- :func:`seed_values`: ``{seed: value}`` of one variant's finished runs on one metric;
- :func:`pair`: the paired comparison ``a - b`` over the seeds both ran
  (:func:`poolstride.experiment.stats.paired_test`: mean difference, 95% t-interval, p);
- :func:`ordering`: a published ordering ``best > ... > worst`` checked pair by pair, Holm
  across the pairs. It **held** when every pair differs in the published direction
  (Holm-adjusted p < 0.05), **did not hold** when any pair differs significantly the other
  way, and is **inconclusive** otherwise;
- :func:`welch`: an unpaired difference (Welch's t-test), e.g. of a gap between two grids;
- :func:`verdict`: the :class:`~poolstride.reproduce.study.ClaimCheck` of a check's reasons
  from its two conditions (did not hold wins over held, else inconclusive);
- :func:`pair_sentence` / :func:`diff_sentence`: one line per comparison, ``"allconv − base: +0.42 points test accuracy
  (95% CI −0.10 to 0.94, p=0.09, n=3)"``.

Accuracies are stored as fractions and stated in percentage points.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import combinations

import numpy as np
from scipy import stats as sps

from poolstride.experiment.results import Results
from poolstride.experiment.stats import METRICS, Paired, format_p, holm, paired_test
from poolstride.reproduce.study import HELD, INCONCLUSIVE, NOT_HELD, ClaimCheck

ALPHA = 0.05


def seed_values(results: Results, variant: str, metric: str = "test_acc") -> dict[int, float]:
    """``{seed: value}`` of ``variant``'s finished runs on ``metric`` (finite values only)."""
    out = {}
    for record in results.finished:
        value = record.metrics.get(metric)
        if record.variant == variant and isinstance(value, (int, float)) and math.isfinite(value):
            out[record.seed] = float(value)
    return out


def pair(results: Results, a: str, b: str, metric: str = "test_acc") -> Paired:
    """``a - b`` on ``metric``, paired by seed over the seeds both finished."""
    va, vb = seed_values(results, a, metric), seed_values(results, b, metric)
    seeds = sorted(set(va) & set(vb))
    return paired_test([va[s] for s in seeds], [vb[s] for s in seeds])


def scale_of(metric: str) -> tuple[float, str]:
    """Display scale and unit of ``metric`` (accuracy: ×100, ``" points"``)."""
    spec = METRICS.get(metric)
    return (spec.scale, spec.unit) if spec else (1.0, "")


def diff_sentence(paired: Paired, metric: str = "test_acc") -> str:
    """``"+0.42 points test accuracy (95% CI -0.10 to 0.94, p=0.09, n=3)"``."""
    scale, unit = scale_of(metric)
    label = METRICS[metric].label if metric in METRICS else metric
    head = f"{paired.diff * scale:+.2f}{unit} {label}"
    if paired.n < 2 or not math.isfinite(paired.lo):
        return f"{head} (n={paired.n}, cannot test)"
    p = paired.p_adj if math.isfinite(paired.p_adj) else paired.p
    how = " Holm-adjusted" if math.isfinite(paired.p_adj) else ""
    how += " Welch" if paired.test == "welch" else ""
    return (
        f"{head} (95% CI {paired.lo * scale:.2f} to {paired.hi * scale:.2f},{how} "
        f"{format_p(p)}, n={paired.n})"
    )


def pair_sentence(a: str, b: str, paired: Paired, metric: str = "test_acc") -> str:
    """``"a − b: +0.42 points test accuracy (95% CI −0.10 to 0.94, p=0.09, n=3)"``."""
    return f"{a} − {b}: {diff_sentence(paired, metric)}"


def welch(a: Sequence[float], b: Sequence[float]) -> Paired:
    """Unpaired ``mean(a) - mean(b)`` with Welch's t-test and its 95% interval
    (``scipy.stats.ttest_ind(equal_var=False)``); ``n`` counts both samples."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    x, y = x[np.isfinite(x)], y[np.isfinite(y)]
    diff = float(x.mean() - y.mean()) if x.size and y.size else math.nan
    if x.size < 2 or y.size < 2 or (x.std() == 0 and y.std() == 0):
        return Paired(diff, math.nan, math.nan, math.nan, int(x.size + y.size), "welch")
    test = sps.ttest_ind(x, y, equal_var=False)
    ci = test.confidence_interval(0.95)
    return Paired(
        diff, float(ci.low), float(ci.high), float(test.pvalue), int(x.size + y.size), "welch"
    )


def with_holm(pairs: Sequence[Paired]) -> list[Paired]:
    """The same comparisons with Holm-adjusted p-values across them (``p_adj``)."""
    adjusted = holm([p.p for p in pairs])
    return [Paired(p.diff, p.lo, p.hi, p.p, p.n, p.test, adj) for p, adj in zip(pairs, adjusted)]


def ordering(
    results: Results,
    order: Sequence[str],
    metric: str = "test_acc",
    *,
    higher_is_better: bool = True,
    all_pairs: bool = True,
) -> ClaimCheck:
    """Check the ordering ``order[0] > order[1] > ...`` (best first) on ``metric``.

    Every pair (``all_pairs``) or each adjacent pair is tested ``better - worse``, Holm
    across the pairs. Held: all pairs significant in the published direction; did not hold:
    some pair significant the other way; else inconclusive. The reasons also say whether
    the order of the *means* matches, significant or not.
    """
    pairs = list(combinations(order, 2)) if all_pairs else list(zip(order, order[1:]))
    tests = with_holm([pair(results, a, b, metric) for a, b in pairs])
    sign = 1.0 if higher_is_better else -1.0
    agree = [t.p_adj < ALPHA and sign * t.diff > 0 for t in tests]
    against = [t.p_adj < ALPHA and sign * t.diff < 0 for t in tests]
    reasons = [pair_sentence(a, b, t, metric) for (a, b), t in zip(pairs, tests)]
    means = {v: sum(seed_values(results, v, metric).values()) for v in order}
    counts = {v: max(len(seed_values(results, v, metric)), 1) for v in order}
    ranked = sorted(order, key=lambda v: -sign * means[v] / counts[v])
    matches = "matches" if list(ranked) == list(order) else "does not match"
    reasons.append(f"order of the means: {' > '.join(ranked)} ({matches} the published order)")
    return verdict(reasons, held=bool(tests) and all(agree), not_held=any(against))


def verdict(reasons: Sequence[str], *, held: bool, not_held: bool) -> ClaimCheck:
    """Did not hold when ``not_held`` (it wins), held when ``held``, else inconclusive;
    with ``reasons`` (one sentence each) as the statistics that decided it."""
    if not_held:
        outcome = NOT_HELD
    elif held:
        outcome = HELD
    else:
        outcome = INCONCLUSIVE
    return ClaimCheck(outcome, tuple(reasons))


__all__ = [
    "ALPHA",
    "diff_sentence",
    "ordering",
    "pair",
    "pair_sentence",
    "scale_of",
    "seed_values",
    "verdict",
    "welch",
    "with_holm",
]
