"""Claim checks decide held / did not hold / inconclusive from paired statistics."""

from __future__ import annotations

import math

import pytest
from reproduce_fakes import fake_results
from scipy import stats as sps

from poolstride.reproduce.claims import diff_sentence, ordering, pair, welch
from poolstride.reproduce.studies import mnist1d_pooling
from poolstride.reproduce.study import HELD, INCONCLUSIVE, NOT_HELD, StudyResults

ORDER = ("a", "b", "c")


def test_ordering_held_when_every_pair_is_significant_in_the_published_direction():
    res = fake_results(
        {
            "a": [0.90, 0.91, 0.92, 0.905, 0.915],
            "b": [0.80, 0.812, 0.818, 0.806, 0.811],
            "c": [0.70, 0.709, 0.722, 0.703, 0.716],
        }
    )
    check = ordering(res, ORDER)
    assert check.outcome == HELD
    assert any("matches the published order" in r for r in check.reasons)


def test_ordering_not_held_when_a_pair_is_significantly_reversed():
    res = fake_results(
        {
            "a": [0.70, 0.709, 0.722, 0.703, 0.716],
            "b": [0.80, 0.812, 0.818, 0.806, 0.811],
            "c": [0.60, 0.61, 0.62, 0.605, 0.615],
        }
    )
    check = ordering(res, ORDER)
    assert check.outcome == NOT_HELD
    assert any("does not match" in r for r in check.reasons)


def test_ordering_inconclusive_with_noise():
    res = fake_results({"a": [0.8, 0.7, 0.9], "b": [0.75, 0.85, 0.7], "c": [0.7, 0.8, 0.9]})
    assert ordering(res, ORDER).outcome == INCONCLUSIVE


def test_ordering_lower_is_better_flips_the_direction():
    res = fake_results(
        {
            "c": [0.90, 0.91, 0.92, 0.905, 0.915],
            "b": [0.80, 0.812, 0.818, 0.806, 0.811],
            "a": [0.70, 0.709, 0.722, 0.703, 0.716],
        }
    )
    assert ordering(res, ORDER, higher_is_better=False).outcome == HELD


def test_pair_matches_scipy_paired_t_test():
    a, b = [0.9, 0.85, 0.88, 0.91], [0.8, 0.82, 0.79, 0.86]
    res = fake_results({"a": a, "b": b})
    p = pair(res, "a", "b")
    assert p.diff == pytest.approx(sum(x - y for x, y in zip(a, b)) / 4)
    assert p.p == pytest.approx(sps.ttest_rel(a, b).pvalue)
    assert p.n == 4


def test_welch_matches_scipy_and_says_so():
    a, b = [0.1, 0.12, 0.09, 0.11], [0.02, 0.01, 0.04]
    w = welch(a, b)
    ref = sps.ttest_ind(a, b, equal_var=False)
    assert w.p == pytest.approx(ref.pvalue)
    assert (w.lo, w.hi) == pytest.approx(tuple(ref.confidence_interval(0.95)))
    assert "Welch" in diff_sentence(w)


def test_welch_with_one_value_cannot_test():
    w = welch([0.1], [0.2, 0.3])
    assert math.isnan(w.p)
    assert "cannot test" in diff_sentence(w)


def _mnist1d_results(gap_small: float, gap_large: float) -> StudyResults:
    recipe = mnist1d_pooling.CPU
    grids = {}
    for g in recipe.grids:
        gap = gap_small if g is recipe.grids[0] else gap_large
        base = [0.70, 0.72, 0.71, 0.69, 0.73]
        jitter = [0.0, 0.004, -0.003, 0.002, -0.001]
        acc = {v: [b + gap + j for b, j in zip(base, jitter)] for v in mnist1d_pooling.POOLING}
        acc["subsample"] = base
        acc["none"] = base
        grids[g.label] = fake_results(acc, "subsample")
    return StudyResults(mnist1d_pooling.STUDY, "cpu", grids, recipe)


def test_mnist1d_claim_held_when_pooling_wins_small_and_the_gap_narrows():
    check = mnist1d_pooling.check(_mnist1d_results(0.10, 0.01))
    assert check.outcome == HELD, check.reasons


def test_mnist1d_claim_not_held_when_the_gap_widens():
    check = mnist1d_pooling.check(_mnist1d_results(0.02, 0.10))
    assert check.outcome == NOT_HELD, check.reasons


def test_mnist1d_claim_not_held_when_striding_wins_small():
    check = mnist1d_pooling.check(_mnist1d_results(-0.05, -0.05))
    assert check.outcome == NOT_HELD, check.reasons
