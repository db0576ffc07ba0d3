"""The seeds-until-decided rule: boundaries, verdicts, Holm, planner, and its error rates
proven by (a fast version of) the simulation in bench/verdict_simulation.py."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from poolstride.errors import PoolstrideError
from poolstride.experiment.sequential import (
    Design,
    _look_stats,
    _transition,
    draw,
    next_round,
    sequential_family,
    sequential_verdict,
    simulate,
    simulate_family,
    spend,
    t_boundaries,
    z_boundaries,
)
from poolstride.experiment.stats import (
    BETTER,
    EQUIVALENT,
    NOT_TESTED,
    UNDECIDED,
    WORSE,
    Verdict,
    holm,
)

M = 1.0  # margin in the simulations (rates depend only on SD / margin and diff / margin)

# --- boundaries --------------------------------------------------------------------------


def test_spending_functions_reach_alpha():
    for kind in ("obf", "pocock"):
        a = spend(np.array([0.0, 0.3, 0.7, 1.0, 1.2]), 0.05, kind)
        assert a[0] == 0 and a[3] == a[4] == 0.05
        assert np.all(np.diff(a) >= 0)
    # O'Brien-Fleming type spends almost nothing early
    assert spend(0.3, 0.05, "obf") < 0.001 < spend(0.3, 0.05, "pocock")
    with pytest.raises(PoolstrideError, match="unknown spending function"):
        spend(0.5, 0.05, "haybittle")


def test_z_boundaries_match_published_tables():
    # Lan-DeMets O'Brien-Fleming and Pocock types, K=5 equally spaced, two-sided α=0.05:
    # the values tabulated by gsDesign / rpact (Jennison & Turnbull 2000, ch. 7)
    obf = z_boundaries((0.2, 0.4, 0.6, 0.8, 1.0), 0.05, True, "obf")
    assert obf == pytest.approx((4.8769, 3.3569, 2.6803, 2.2898, 2.0310), abs=2e-4)
    pocock = z_boundaries((0.2, 0.4, 0.6, 0.8, 1.0), 0.05, True, "pocock")
    assert pocock == pytest.approx((2.4380, 2.4268, 2.4102, 2.3966, 2.3860), abs=2e-4)
    # one-sided at α/2 nearly coincides with two-sided at α
    one = z_boundaries((0.2, 0.4, 0.6, 0.8, 1.0), 0.025, False, "obf")
    assert one == pytest.approx(obf, abs=1e-3)


def test_t_process_keeps_the_exact_t_marginal():
    # with no boundary, ζ = Φ⁻¹(F_t(T_n)) stays exactly N(0, 1) from seed to seed
    g = np.linspace(-9, 9, _transition(3).shape[0])
    mid = np.concatenate([[-np.inf], (g[:-1] + g[1:]) / 2, [np.inf]])
    cells = np.diff(sps.norm.cdf(mid))
    m = cells.copy()
    for n in range(3, 10):
        m = m @ _transition(n)
    assert m.sum() == pytest.approx(1.0, abs=1e-9)
    assert np.abs(m - cells).max() < 1e-4


def test_single_look_t_boundary_is_the_t_quantile():
    (b2,) = t_boundaries((10,), 10, 0.05, True)
    (b1,) = t_boundaries((10,), 10, 0.05, False)
    assert b2 == pytest.approx(sps.t.isf(0.025, 9), rel=1e-3)
    assert b1 == pytest.approx(sps.t.isf(0.05, 9), rel=1e-3)


def test_t_boundaries_are_wider_than_fixed_and_than_normal_theory():
    looks = Design().looks
    b = t_boundaries(looks, 10, 0.05, True)
    assert all(x > y for x, y in zip(b, b[1:]))  # OBF: decreasing
    assert b[-1] > sps.t.isf(0.025, 9)  # the price of looking early
    z = z_boundaries(tuple(n / 10 for n in looks), 0.05, True)
    # t boundaries exceed the normal ones converted look by look to t-quantiles
    naive = [sps.t.isf(sps.norm.sf(c), n - 1) for c, n in zip(z, looks)]
    assert b[-1] > naive[-1] + 0.05


@pytest.mark.parametrize("two_sided", [True, False])
def test_t_boundaries_spend_alpha_exactly_under_the_null(two_sided):
    # 100k null paths of 10 normal seeds: the first-crossing rate is α (MC se ≈ 0.0007);
    # the significance level approach would give about 0.057 here
    looks = Design().looks
    rng = np.random.default_rng(11)
    d = rng.standard_normal((100_000, 10))
    t = _look_stats(d, looks, None)[..., 2]
    b = np.asarray(t_boundaries(looks, 10, 0.05, two_sided))
    rate = np.mean(((np.abs(t) if two_sided else t) >= b).any(axis=1))
    assert abs(rate - 0.05) < 4 * math.sqrt(0.05 * 0.95 / 100_000)


# --- the design ----------------------------------------------------------------------------


def test_design_looks_history_and_validation():
    d = Design()
    assert d.looks == (3, 4, 5, 6, 7, 8, 9, 10)
    assert Design(step=2).looks == (3, 5, 7, 9, 10)
    assert d.history(5) == (3, 4, 5)
    assert d.history(2) == (2,)  # fewer pairs than the first look: looked at as they are
    assert d.history(1) == ()
    assert Design(step=3).history(5) == (3, 5)  # an unplanned look at 5 (failed runs)
    assert d.next_look(3) == 4 and d.next_look(1) == 3 and d.next_look(10) == 10
    for bad in (dict(first=1), dict(step=0), dict(alpha=1.5), dict(first=12)):
        with pytest.raises(PoolstrideError):
            Design(**bad)
    with pytest.raises(PoolstrideError, match="unknown spending"):
        Design(spending="linear")
    with pytest.raises(PoolstrideError, match="exceed the design's cap"):
        sequential_verdict(np.zeros(11), M)


# --- verdicts ---------------------------------------------------------------------------------


def _with_t(n: int, mean: float, t: float) -> np.ndarray:
    """n differences with the given mean and one-sample t-statistic."""
    z = np.linspace(-1, 1, n)
    z = (z - z.mean()) / z.std(ddof=1)
    return mean + z * (abs(mean) * math.sqrt(n) / t if t else 1.0)


def test_each_verdict_class_on_hand_made_data():
    design = Design()
    # t = 35 at 3 seeds (boundary 108), 47 at 4 (boundary 14.7): decided at 4
    big = np.array([2.1, 1.9, 2.0, 2.05, 1.95])
    v = sequential_verdict(big, M, design)
    assert v.kind == BETTER and v.significant and v.n == 4 and v.decided_at == 4
    assert v.lo > 0 and v.p < 0.05 and v.p_equiv > 0.5
    assert sequential_verdict(-big, M, design).kind == WORSE
    assert sequential_verdict(big, M, design, higher_is_better=False).kind == WORSE
    tight = np.array([0.01, -0.02, 0.015, -0.01, 0.0, 0.005])  # |diff| ≪ margin, tiny SD
    v = sequential_verdict(tight, M, design)
    assert v.kind == EQUIVALENT and v.decided_at == 3 and v.p_equiv < 0.05 and not v.capped
    noisy = np.array([2.0, -2.5, 1.0, -0.5, 3.0, -2.0, 1.5, -1.0, 0.5, -2.2])
    v = sequential_verdict(noisy, M, design, pvalues=False)
    assert v.kind == UNDECIDED and v.capped and v.n == 10 and v.decided_at is None
    assert not sequential_verdict(noisy[:6], M, design, pvalues=False).capped
    one = sequential_verdict([0.3], M, design)
    assert one.kind == NOT_TESTED and one.n == 1 and not one.decided
    assert sequential_verdict([], M, design).kind == NOT_TESTED
    # a real difference smaller than the margin: equivalent, and flagged significant
    small = _with_t(8, 0.3, 400.0)
    v = sequential_verdict(small, M, design, pvalues=False)
    assert v.kind == EQUIVALENT and v.significant
    # without a margin there is no equivalence: three-way
    assert sequential_verdict(tight, None, design, pvalues=False).kind == UNDECIDED


def test_the_first_crossing_decides():
    # decided "better" at 4 seeds; later seeds that pull the mean to 0 change nothing
    d = np.array([2.1, 1.9, 2.0, 2.05, -5.0, -5.0, -5.0])
    v = sequential_verdict(d, M)
    assert v.kind == BETTER and v.n == v.decided_at == 4
    assert v.diff == pytest.approx(2.0125)


def test_zero_variance_edge_cases():
    assert sequential_verdict([0.0, 0.0, 0.0], M).kind == EQUIVALENT  # identical arms
    assert sequential_verdict([2.0, 2.0, 2.0], M).kind == BETTER  # t = +inf
    assert sequential_verdict([0.5, 0.5, 0.5], M).kind == EQUIVALENT  # inside, t = inf
    assert sequential_verdict([1.0, 1.0, 1.0], M).kind == BETTER  # on the margin: not inside


def test_single_look_matches_the_fixed_sample_tests():
    # one look at n seeds: the repeated p-values are the ordinary t-test and TOST ones
    d = np.array([0.3, -0.1, 0.5, 0.2, -0.4, 0.6, 0.1])
    v = sequential_verdict(d, M, Design(first=7, max_seeds=7), looks=(7,))
    p = sps.ttest_1samp(d, 0.0).pvalue
    p_lo = sps.ttest_1samp(d, -M, alternative="greater").pvalue
    p_up = sps.ttest_1samp(d, M, alternative="less").pvalue
    assert v.p == pytest.approx(p, rel=5e-3)
    assert v.p_equiv == pytest.approx(max(p_lo, p_up), rel=5e-3)
    half = sps.t.isf(0.025, 6) * d.std(ddof=1) / math.sqrt(7)
    assert (v.lo, v.hi) == pytest.approx((d.mean() - half, d.mean() + half), abs=1e-3)


def test_holm_over_the_family():
    # one look at 10 seeds per comparison, so the boundaries are the t-quantiles at the
    # Holm levels: t = 2.5 passes α = 0.05 (2.26) but not α/2 (2.69)
    design = Design(first=10)
    mid = _with_t(10, 1.0, 2.5)
    alone = sequential_family({"a": mid}, None, design)
    assert alone["a"].kind == BETTER
    with_null = sequential_family({"a": mid, "b": _with_t(10, 0.1, 0.3)}, None, design)
    assert with_null["a"].kind == UNDECIDED and with_null["b"].kind == UNDECIDED
    # a clear rejection first lifts the level of the rest to α (Holm's step-down)
    with_clear = sequential_family({"a": mid, "b": _with_t(10, 3.0, 8.0)}, None, design)
    assert with_clear["b"].kind == BETTER and with_clear["a"].kind == BETTER
    # adjusted p-values are Holm's over the repeated ones
    fam = sequential_family({"a": mid, "b": _with_t(10, 0.1, 0.3), "c": [0.2]}, M, design)
    raw = [fam[v].p for v in "abc"]
    assert [fam[v].p_adj for v in "ab"] == pytest.approx(holm(raw)[:2])
    assert fam["c"].kind == NOT_TESTED and math.isnan(fam["c"].p_adj)


def test_next_round_plans_only_the_undecided():
    design = Design()

    def ver(kind, n):
        return Verdict(kind, 0.0, 0.0, 0.0, n, M, 1, 1, 1, 1, False, "")

    verdicts = {
        "a": ver(BETTER, 5),
        "b": ver(UNDECIDED, 5),
        "c": ver(EQUIVALENT, 3),
        "d": ver(UNDECIDED, 10),
        "e": ver(NOT_TESTED, 1),
    }
    assert next_round(verdicts, design) == {"b": 6, "e": 3}
    assert next_round(verdicts, Design(step=2)) == {"b": 7, "e": 3}
    assert next_round({"a": ver(BETTER, 4)}, design) == {}


# --- symmetry properties ---------------------------------------------------------------------

diffs_strategy = st.lists(
    st.floats(-5, 5, allow_nan=False, allow_infinity=False), min_size=2, max_size=10
)


@settings(max_examples=40, deadline=None)
@given(diffs_strategy)
def test_swapping_arms_swaps_better_and_worse(diffs):
    d = np.round(np.asarray(diffs), 3)
    a = sequential_verdict(d, M, pvalues=False)
    b = sequential_verdict(-d, M, pvalues=False)
    swap = {BETTER: WORSE, WORSE: BETTER}
    assert b.kind == swap.get(a.kind, a.kind)
    assert (b.n, b.decided_at) == (a.n, a.decided_at)
    assert b.diff == pytest.approx(-a.diff)


@settings(max_examples=40, deadline=None)
@given(diffs_strategy, st.integers(-100, 100), st.sampled_from([0.25, 0.5, 4.0]))
def test_invariant_to_a_shift_of_both_arms_and_to_units(diffs, shift, scale):
    # dyadic values, so that the arithmetic below is exact
    d = np.round(np.asarray(diffs) * 64) / 64
    base = np.arange(d.size, dtype=float)
    a = sequential_verdict(d, M, pvalues=False)
    shifted = sequential_verdict((base + d + shift) - (base + shift), M, pvalues=False)
    assert (shifted.kind, shifted.n) == (a.kind, a.n)
    rescaled = sequential_verdict(d * scale, M * scale, pvalues=False)
    assert (rescaled.kind, rescaled.n) == (a.kind, a.n)


# --- proof by simulation (fast version of bench/verdict_simulation.py) ---------------------------


def test_simulation_runs_the_same_rule_as_sequential_verdict():
    design = Design()
    for true_diff, seed in ((0.0, 3), (2.0, 4)):
        res = simulate(true_diff, 1.0, M, design, reps=150, seed=seed)
        d = draw(np.random.default_rng(seed), 150, 10, true_diff, 1.0, "normal")
        verdicts = [sequential_verdict(row, M, design, pvalues=False) for row in d]
        kinds = [v.kind for v in verdicts]
        assert res.better == pytest.approx(kinds.count(BETTER) / 150)
        assert res.equivalent == pytest.approx(kinds.count(EQUIVALENT) / 150)
        assert res.mean_seeds == pytest.approx(np.mean([v.n for v in verdicts]))


@pytest.mark.parametrize("dist", ["normal", "t3"])
def test_error_rates_under_optional_stopping(dist):
    reps = 2000
    # SD of the paired differences = the margin (0.5 points for accuracy), as on MNIST-1D
    null = simulate(0.0, 1.0 * M, M, reps=reps, dist=dist, seed=1)
    assert null.different <= 0.05 + 3 * null.se(null.different)  # false better/worse
    assert null.equivalent > 0.5  # equivalence reached in most replications
    two = simulate(2 * M, 1.0 * M, M, reps=reps, dist=dist, seed=2)
    assert two.better >= 0.8 and two.worse == 0  # power at 2×margin before 10 seeds
    at_margin = simulate(M, 1.0 * M, M, reps=reps, dist=dist, seed=3)
    assert at_margin.equivalent <= 0.05 + 3 * at_margin.se(at_margin.equivalent)
    # early stopping saves seeds against a fixed 10
    assert null.mean_seeds < 10 and two.mean_seeds < 7


def test_false_positive_rate_without_equivalence_stops():
    # the hardest case for the superiority boundaries: noisy data that never stop for
    # equivalence (SD = 3×margin), many replications (vectorised)
    res = simulate(0.0, 3.0, M, reps=40_000, seed=5)
    assert res.equivalent < 0.01
    assert res.different <= 0.05 + 3 * res.se(res.different)
    assert 0.5 * res.different < res.better < 0.5 * res.different + 4 * res.se(0.025)


def test_family_loop_controls_familywise_error():
    # 3 variants vs a shared baseline, all truly equal to it, SD = 2×margin (few decide)
    res = simulate_family([0.0, 0.0, 0.0], 2.0, M, reps=150, seed=6)
    assert res.false_different <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / 150)
    assert res.mean_baseline_seeds >= max(res.mean_seeds)
    # a clear difference is found inside the family too
    res = simulate_family([0.0, 3.0], 0.5, M, reps=60, seed=7)
    assert res.decided[1] == 1.0 and res.mean_seeds[1] < 6
