"""The t-intervals come from scipy (ttest_1samp / ttest_rel .confidence_interval) and give
the numbers the hand-written formula gave before: pinned values, and the textbook formula
mean ± t(1-α/2, n-1)·s/√n on generated samples."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from poolstride.experiment.stats import mean_ci, paired_test

# (values, confidence) -> (lo, hi) as computed before scipy's intervals were used
PINNED = [
    (([0.91, 0.93, 0.92], 0.95), (0.8951586228824967, 0.9448413771175034)),
    (([0.91, 0.93, 0.92], 0.90), (0.9031414553915296, 0.9368585446084705)),
    (([1.0, 2.0], 0.95), (-4.853102368087347, 7.853102368087347)),
    (([0.1, 0.3, 0.2, 0.25, 0.4, 0.33], 0.95), (0.15293456614845144, 0.37373210051821526)),
    ((list(range(1, 11)), 0.90), (3.7449279866962, 7.2550720133038)),
    (([0.5, 0.5, 0.5], 0.95), (0.5, 0.5)),
]


@pytest.mark.parametrize("args, interval", PINNED)
def test_mean_ci_keeps_the_numbers_it_gave(args, interval):
    summary = mean_ci(*args)
    assert (summary.lo, summary.hi) == pytest.approx(interval, rel=1e-13, abs=1e-15)


def test_paired_test_keeps_the_numbers_it_gave():
    a, b = [0.91, 0.93, 0.92, 0.95], [0.90, 0.90, 0.93, 0.91]
    for test, p in (("t", 0.21257296315231966), ("wilcoxon", 0.375)):
        r = paired_test(a, b, test)
        assert (r.diff, r.lo, r.hi, r.p) == pytest.approx(
            (0.0175, -0.017783078589306944, 0.05278307858930692, p), rel=1e-13
        )
    r = paired_test(a, b, confidence=0.99)
    assert (r.lo, r.hi) == pytest.approx((-0.04725687016814083, 0.0822568701681408), rel=1e-13)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # scipy's precision warning stays inside
        constant = paired_test([1, 2, 3], [0, 1, 2])
        same = paired_test([1, 2], [1, 2])
    assert (constant.lo, constant.hi, constant.p) == (1.0, 1.0, 0.0)
    assert (same.lo, same.hi, same.p) == (0.0, 0.0, 1.0)
    assert math.isnan(paired_test([1], [0]).lo)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(-100, 100, allow_nan=False), min_size=2, max_size=12),
    st.sampled_from([0.8, 0.9, 0.95, 0.99]),
)
def test_scipy_interval_is_the_textbook_t_interval(values, confidence):
    x = np.asarray(values)
    n, mean, sd = x.size, float(x.mean()), float(x.std(ddof=1))
    half = float(sps.t.ppf(0.5 + confidence / 2, n - 1)) * sd / math.sqrt(n)
    summary = mean_ci(values, confidence)
    scale = max(1.0, abs(mean), half)
    assert summary.lo == pytest.approx(mean - half, abs=1e-12 * scale)
    assert summary.hi == pytest.approx(mean + half, abs=1e-12 * scale)
    paired = paired_test(values, [0.0] * n, confidence=confidence)
    assert (paired.lo, paired.hi) == (summary.lo, summary.hi)
