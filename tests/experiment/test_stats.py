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


# --- four-way verdicts, TOST, richer intervals, seeds needed -----------------------------

from poolstride.experiment.stats import (  # noqa: E402
    BETTER,
    EQUIVALENT,
    METRICS,
    NOT_TESTED,
    UNDECIDED,
    WORSE,
    bootstrap_ci,
    decide,
    decide_family,
    default_margin,
    describe,
    paired_diffs,
    power_equivalence,
    power_superiority,
    prob_improvement,
    seeds_needed,
    tost,
    verdicts_vs_baseline,
)


def test_default_margins_are_in_stored_units():
    assert default_margin("test_acc") == 0.005  # 0.5 points, accuracy stored as a fraction
    assert METRICS["test_acc"].scale * default_margin("test_acc") == pytest.approx(0.5)
    assert default_margin("shift_consistency_circular") == 0.005
    assert default_margin("shift_consistency_crop") == 0.005
    assert default_margin("test_loss") == 0.01
    assert default_margin("train_time_s") is None and default_margin("unknown") is None


@given(st.lists(finite, min_size=2, max_size=12), st.floats(0.01, 100))
def test_tost_matches_two_one_sided_scipy_tests(values, margin):
    d = np.asarray(values)
    assume(d.std(ddof=1) > 1e-6)
    r = tost(d, margin)
    lo = sps.ttest_1samp(d, -margin, alternative="greater").pvalue
    up = sps.ttest_1samp(d, margin, alternative="less").pvalue
    assert (r.p_lower, r.p_upper) == (pytest.approx(lo), pytest.approx(up))
    assert r.p == pytest.approx(max(lo, up)) and r.n == d.size


def test_tost_edge_cases():
    assert math.isnan(tost([0.1], 0.5).p)
    assert tost([0.1, 0.1, 0.1], 0.5).p == 0.0  # constant, inside the margin
    assert tost([0.5, 0.5], 0.5).p == 1.0  # on the margin is not inside
    assert tost([0.1, float("nan"), 0.2], 0.5).n == 2
    with pytest.raises(PoolstrideError, match="margin must be a positive"):
        tost([0.1, 0.2], -1.0)


def test_decide_each_verdict_class():
    better = decide([1.0, 1.1, 0.9, 1.05], 0.2)
    assert better.kind == BETTER and better.significant and better.lo > 0
    assert decide([-1.0, -1.1, -0.9, -1.05], 0.2).kind == WORSE
    assert decide([1.0, 1.1, 0.9, 1.05], 0.2, higher_is_better=False).kind == WORSE
    eq = decide([0.01, -0.01, 0.02, -0.02, 0.0], 0.5)
    assert eq.kind == EQUIVALENT and not eq.significant and eq.p_equiv < 0.05
    # significant but inside the margin: equivalent (a real, negligible difference)
    small = decide([0.1, 0.11, 0.09, 0.1, 0.1], 0.5)
    assert small.kind == EQUIVALENT and small.significant
    undecided = decide([1.0, -1.0, 0.5], 0.1)
    assert undecided.kind == UNDECIDED and not undecided.decided
    one = decide([0.24], 0.005)  # one seed and a large gap: never a tie
    assert one.kind == NOT_TESTED and math.isnan(one.p) and one.n == 1
    assert decide([1.0, -1.0, 0.5], None).kind == UNDECIDED  # no margin: no equivalence


def test_decide_family_holm_on_each_family():
    diffs = {
        "a": [0.03, 0.035, 0.028, 0.031],
        "b": [0.001, -0.002, 0.0015, 0.0],
        "c": [0.01, -0.02, 0.015],
        "d": [0.2],
    }
    out = decide_family(diffs, 0.005)
    raw_sup = [sps.ttest_1samp(diffs[v], 0).pvalue for v in "abc"]
    raw_eq = [tost(diffs[v], 0.005).p for v in "abc"]
    assert [out[v].p_adj for v in "abc"] == pytest.approx(holm(raw_sup))
    assert [out[v].p_equiv_adj for v in "abc"] == pytest.approx(holm(raw_eq))
    assert out["a"].kind == BETTER and out["b"].kind == EQUIVALENT
    assert out["c"].kind == UNDECIDED and out["d"].kind == NOT_TESTED
    assert math.isnan(out["d"].p_adj)  # not counted in the family


def test_verdicts_vs_baseline_direction_and_pairing():
    per_variant = {
        "max": {0: 0.300, 1: 0.310, 2: 0.305, 3: 0.300},
        "conv": {0: 0.250, 1: 0.262, 2: 0.254, 3: 0.251},  # lower loss
        "avg": {1: 0.311, 2: 0.304},  # paired over seeds 1, 2 only
        "one": {0: 0.9},
    }
    assert paired_diffs(per_variant, "max")["avg"] == pytest.approx([0.001, -0.001])
    out = verdicts_vs_baseline(per_variant, "max", "test_loss")
    assert out["conv"].kind == BETTER and out["conv"].margin == 0.01
    assert out["avg"].n == 2 and out["one"].kind == NOT_TESTED
    with pytest.raises(PoolstrideError, match="baseline 'lp'"):
        paired_diffs(per_variant, "lp")


@settings(max_examples=50)
@given(
    st.lists(st.tuples(st.integers(0, 1000), st.integers(0, 1000)), min_size=2, max_size=10),
    st.integers(-1000, 1000),
)
def test_four_way_invariant_to_a_constant_added_to_both_arms(pairs, shift):
    # integer-valued arms: the shift is exact
    a, b = (np.array(x, dtype=float) for x in zip(*pairs))
    base = verdicts_vs_baseline(
        {"b": dict(enumerate(b)), "a": dict(enumerate(a))}, "b", "x", margin=50.0
    )["a"]
    moved = verdicts_vs_baseline(
        {"b": dict(enumerate(b + shift)), "a": dict(enumerate(a + shift))}, "b", "x", 50.0
    )["a"]
    assert moved.kind == base.kind and moved.n == base.n
    swapped = verdicts_vs_baseline(
        {"a": dict(enumerate(a)), "b": dict(enumerate(b))}, "a", "x", margin=50.0
    )["b"]
    flip = {BETTER: WORSE, WORSE: BETTER}
    assert swapped.kind == flip.get(base.kind, base.kind)


def test_describe_says_the_verdict_margin_and_n():
    better = decide([-0.027, -0.026, -0.028, -0.027, -0.025], 0.005)
    text = describe(better, "test_acc", "subsample", "max")
    assert text.startswith("subsample is worse than max: 2.7 points less accurate (95% CI 2.")
    assert text.endswith("n=5)") and "−" not in text  # the size's interval, no signs
    eq = decide([0.001, 0.0, 0.002, 0.0015, 0.0005, 0.001], 0.005)
    assert describe(eq, "test_acc", "conv", "max").startswith(
        "conv is equivalent to max on test accuracy within ±0.5 points (difference +0.1"
    )
    und = describe(decide([0.01, -0.02, 0.015], 0.005), "test_acc", "avg", "max")
    assert "undecided" in und and "margin ±0.5 points" in und and "n=3" in und
    assert " to " in und  # a signed interval: "95% CI −4.6 to 4.9"
    one = describe(decide([0.24], 0.005), "test_acc", "conv", "max")
    assert one == "conv vs max, test accuracy: not tested (n=1)"
    assert "equivalent" not in one and "no significant" not in one


def test_bootstrap_ci_deterministic_and_falls_back():
    x = [0.971, 0.978, 0.980, 0.975, 0.969, 0.983]
    a, b = bootstrap_ci(x), bootstrap_ci(x)
    assert a == b and a.method == "BCa" and a.lo < np.mean(x) < a.hi
    ref = sps.bootstrap(
        (np.asarray(x),), np.mean, method="percentile", rng=np.random.default_rng(0)
    ).confidence_interval
    p = bootstrap_ci(x, method="percentile")
    assert (p.lo, p.hi) == (pytest.approx(ref.low), pytest.approx(ref.high))
    assert bootstrap_ci([0.9, 0.8]).method == "none (n<3)"
    assert math.isnan(bootstrap_ci([0.9, 0.8]).lo)
    flat = bootstrap_ci([0.5, 0.5, 0.5])
    assert (flat.lo, flat.hi, flat.method) == (0.5, 0.5, "none (zero variance)")
    with pytest.raises(PoolstrideError, match="unknown bootstrap method"):
        bootstrap_ci(x, method="studentized")


def test_prob_improvement_paired_and_rliable():
    a, b = [0.9, 0.8, 0.7, 0.6], [0.85, 0.8, 0.75, 0.5]
    assert prob_improvement(a, b) == pytest.approx((1 + 0.5 + 0 + 1) / 4)
    assert prob_improvement(a, b, higher_is_better=False) == pytest.approx((0 + 0.5 + 1 + 0) / 4)
    # all pairs (rliable's definition), ties one half: brute force
    brute = np.mean([[1.0 if x > y else 0.5 if x == y else 0.0 for y in b] for x in a])
    assert prob_improvement(a, b, paired=False) == pytest.approx(brute)
    assert math.isnan(prob_improvement([math.nan], [0.5]))
    with pytest.raises(PoolstrideError, match="differ in length"):
        prob_improvement([1.0], [1.0, 2.0])


def test_power_formulas_against_simulation():
    rng = np.random.default_rng(0)
    n, sd = 6, 1.0
    x = rng.normal(0.0, sd, (100_000, n))
    m, s = x.mean(1), x.std(1, ddof=1) / math.sqrt(n)
    c = sps.t.isf(0.05, n - 1)
    sim_eq = np.mean((m - c * s > -1.5) & (m + c * s < 1.5))
    assert power_equivalence(n, sd, 1.5) == pytest.approx(sim_eq, abs=0.005)
    sim_sup = np.mean(np.abs((m + 1.2) / s) > sps.t.isf(0.025, n - 1))
    assert power_superiority(n, sd, 1.2) == pytest.approx(sim_sup, abs=0.005)


def test_seeds_needed():
    # accuracy margin 0.5 points, SD of paired differences 0.5 points: 11 seeds to show
    # equivalence at a true difference of 0 with 80% power; 5 to detect 1 point
    assert seeds_needed(0.005, 0.005) == 11
    assert seeds_needed(0.0075, 0.005) == 21
    assert seeds_needed(0.005, 0.005, true_diff=0.01) == 5
    n = seeds_needed(0.005, 0.005)
    assert power_equivalence(n, 0.005, 0.005) >= 0.8 > power_equivalence(n - 1, 0.005, 0.005)
    assert seeds_needed(1.0, 0.005, max_n=100) is None
    assert seeds_needed(math.nan, 0.005) is None
