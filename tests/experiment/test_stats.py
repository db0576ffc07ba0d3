"""poolstride.experiment.stats against scipy and hand-computed examples."""

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from poolstride.errors import PoolstrideError
from poolstride.experiment.stats import (
    Paired,
    compare_to_baseline,
    holm,
    mean_ci,
    paired_test,
    verdict,
)

finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)
samples = st.lists(finite, min_size=2, max_size=15)


@given(samples)
def test_mean_ci_matches_scipy_t_interval(values):
    x = np.asarray(values)
    assume(x.std(ddof=1) > 1e-6)
    s = mean_ci(values)
    lo, hi = sps.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=sps.sem(x))
    assert s.n == len(x)
    assert s.mean == pytest.approx(x.mean(), abs=1e-9)
    assert s.lo == pytest.approx(lo, rel=1e-9, abs=1e-9)
    assert s.hi == pytest.approx(hi, rel=1e-9, abs=1e-9)


def test_mean_ci_hand_example_n3():
    # values 1, 2, 3: mean 2, s = 1, half-width = t(0.975, 2) / sqrt(3)
    half = sps.t.ppf(0.975, 2) * 1.0 / math.sqrt(3)
    s = mean_ci([1.0, 2.0, 3.0])
    assert (s.mean, s.std) == (2.0, 1.0)
    assert s.lo == pytest.approx(2 - half) and s.hi == pytest.approx(2 + half)
    assert half == pytest.approx(2.4841377, rel=1e-6)


def test_mean_ci_edge_cases():
    one = mean_ci([0.9])
    assert one.mean == 0.9 and one.n == 1 and math.isnan(one.lo) and math.isnan(one.hi)
    empty = mean_ci([])
    assert empty.n == 0 and math.isnan(empty.mean)
    flat = mean_ci([0.5, 0.5, 0.5])
    assert (flat.lo, flat.mean, flat.hi, flat.std) == (0.5, 0.5, 0.5, 0.0)
    # non-finite values (failed runs) are dropped, not propagated
    assert mean_ci([1.0, float("nan"), 3.0]).n == 2


@given(st.lists(st.tuples(finite, finite), min_size=2, max_size=12))
def test_paired_t_matches_scipy_ttest_rel(pairs):
    a, b = np.array(pairs).T
    d = a - b
    assume(d.std(ddof=1) > 1e-6)
    r = paired_test(a, b, "t")
    ref = sps.ttest_rel(a, b)
    assert r.n == len(a)
    assert r.p == pytest.approx(ref.pvalue, rel=1e-7, abs=1e-12)
    assert r.diff == pytest.approx(d.mean(), abs=1e-9)
    lo, hi = sps.t.interval(0.95, len(d) - 1, loc=d.mean(), scale=sps.sem(d))
    assert (r.lo, r.hi) == (pytest.approx(lo, abs=1e-9), pytest.approx(hi, abs=1e-9))


@settings(max_examples=50)
@given(st.lists(st.tuples(finite, finite), min_size=3, max_size=12))
def test_paired_wilcoxon_matches_scipy(pairs):
    a, b = np.array(pairs).T
    d = a - b
    assume(np.all(d != 0) and len(np.unique(np.abs(d))) == len(d))
    r = paired_test(a, b, "wilcoxon")
    assert r.test == "wilcoxon"
    assert r.p == pytest.approx(sps.wilcoxon(d).pvalue, rel=1e-9)


def test_paired_n2_uses_one_degree_of_freedom():
    r = paired_test([1.0, 2.0], [0.0, 1.5])
    assert r.n == 2
    assert r.p == pytest.approx(sps.ttest_rel([1.0, 2.0], [0.0, 1.5]).pvalue)
    assert r.p == pytest.approx(0.2048327647, rel=1e-8)


@pytest.mark.filterwarnings("ignore:Precision loss occurred")  # scipy on constant differences
def test_paired_edge_cases():
    one = paired_test([0.9], [0.8])
    assert one.n == 1 and math.isnan(one.p) and one.diff == pytest.approx(0.1)
    same = paired_test([0.9, 0.8, 0.7], [0.9, 0.8, 0.7])
    assert same.p == 1.0 and same.diff == 0.0 and same.lo == same.hi == 0.0
    const = paired_test([2.0, 3.0, 4.0], [1.0, 2.0, 3.0])  # constant non-zero difference
    assert const.p == 0.0 == sps.ttest_rel([2.0, 3.0, 4.0], [1.0, 2.0, 3.0]).pvalue
    assert paired_test([0.5, 0.5, 0.5], [0.5, 0.5, 0.5], "wilcoxon").p == 1.0
    dropped = paired_test([1.0, float("nan"), 3.0, 4.0], [0.0, 1.0, 1.0, 1.5])
    assert dropped.n == 3
    with pytest.raises(PoolstrideError, match="differ in length"):
        paired_test([1.0, 2.0], [1.0])
    with pytest.raises(PoolstrideError, match="unknown test 'z'"):
        paired_test([1.0, 2.0], [1.0, 2.0], "z")


def test_holm_hand_example():
    # sorted: .005*4=.02, .01*3=.03, .03*2=.06, .04*1=.04 -> running max .06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.2, 0.6]) == pytest.approx([0.4, 0.6])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])  # capped at 1
    assert holm([]) == []


def test_holm_ignores_nan_in_family_size():
    out = holm([0.01, float("nan"), 0.04])
    assert out[0] == pytest.approx(0.02) and out[2] == pytest.approx(0.04)
    assert math.isnan(out[1])


@given(st.lists(st.floats(0, 1), min_size=1, max_size=10))
def test_holm_properties(p):
    adj = holm(p)
    m = len(p)
    order = np.argsort(p, kind="stable")
    for i, a in enumerate(adj):
        assert p[i] <= a + 1e-12 and a <= 1.0
        assert a <= min(1.0, m * p[i]) + 1e-12
    sorted_adj = [adj[i] for i in order]
    assert sorted_adj == sorted(sorted_adj)  # monotone in the raw p order


def test_verdict_significant_matches_issue_wording():
    paired = Paired(-0.043, -0.055, -0.031, 0.0004, 5, "t", p_adj=0.002)
    text, sig = verdict("test_acc", "conv", "max", paired)
    assert sig
    assert text == "conv is 4.3 points less accurate than max (95% CI 3.1–5.5, p=0.002, n=5)"
    better = Paired(0.021, 0.011, 0.031, 0.001, 4, "t", p_adj=0.003)
    assert verdict("test_acc", "avg", "max", better)[0].startswith(
        "avg is 2.1 points more accurate than max (95% CI 1.1–3.1"
    )


def test_verdict_not_significant_and_untestable():
    text, sig = verdict("test_acc", "conv", "max", Paired(-0.01, -0.05, 0.03, 0.3, 3, "t", 0.41))
    assert not sig
    assert text == "conv vs max, test accuracy: no significant difference (p=0.41, n=3)"
    text, sig = verdict(
        "test_acc", "conv", "max", Paired(0.1, math.nan, math.nan, math.nan, 1, "t")
    )
    assert not sig and "cannot test with n=1" in text


def test_verdict_lower_is_better_metric():
    paired = Paired(0.052, 0.03, 0.074, 0.001, 5, "t", p_adj=0.004)
    text, _ = verdict("test_loss", "conv", "max", paired)
    assert text.startswith("conv has 0.052 higher test loss than max (95% CI 0.030–0.074")


def test_compare_to_baseline_pairs_by_seed_and_applies_holm():
    per_variant = {
        "max": {0: 0.90, 1: 0.92, 2: 0.91, 3: 0.93},
        "conv": {0: 0.85, 1: 0.88, 2: 0.86, 3: 0.87},
        "avg": {1: 0.925, 2: 0.905, 3: 0.94},  # seed 0 missing: paired over 1..3
    }
    out = compare_to_baseline(per_variant, "max", "test_acc")
    assert [c.variant for c in out] == ["conv", "avg"]
    conv, avg = out
    raw_conv = sps.ttest_rel([0.85, 0.88, 0.86, 0.87], [0.90, 0.92, 0.91, 0.93]).pvalue
    raw_avg = sps.ttest_rel([0.925, 0.905, 0.94], [0.92, 0.91, 0.93]).pvalue
    assert conv.paired.p == pytest.approx(raw_conv) and avg.paired.n == 3
    expected = holm([raw_conv, raw_avg])
    assert [conv.paired.p_adj, avg.paired.p_adj] == pytest.approx(expected)
    assert conv.significant and "less accurate than max" in conv.verdict
    assert not avg.significant and "no significant difference" in avg.verdict
    with pytest.raises(PoolstrideError, match="baseline 'lp'"):
        compare_to_baseline(per_variant, "lp", "test_acc")


@pytest.mark.parametrize(
    "p, text",
    [
        (0.0004, "p<0.001"),
        (0.002, "p=0.002"),
        (0.0499, "p=0.0499"),
        (0.05, "p=0.05"),
        (0.0213, "p=0.0213"),
        (0.41, "p=0.41"),
        (1.0, "p=1.00"),
        (math.nan, "p=n/a"),
    ],
)
def test_format_p_never_rounds_onto_the_threshold(p, text):
    from poolstride.experiment.stats import format_p

    assert format_p(p) == text
