"""Seeds until decided: a group-sequential design for paired comparisons over seeds.

A comparison (variant − baseline, paired by seed) is looked at after every round of seeds
-- by default at 3, 4, …, 10 seeds -- and stops as soon as it is decided: *better*, *worse*
or *equivalent within ±margin* (the verdict classes of :class:`~.stats.Verdict`). Looking
again and again at the same test inflates its false-positive rate; a group-sequential
design pays for the looks in advance by spending its α over them.

The rule
--------
- **α spending** (Lan & DeMets 1983): the cumulative type I error allowed by the k-th look
  is ``α(t_k)`` with information fraction ``t_k = n_k / max_seeds``. The default spending
  function is the O'Brien–Fleming type ``α(t) = 2 − 2Φ(z_{1−α/2} / √t)`` (one-sided level
  α; a two-sided test spends α/2 per side): almost nothing is spent at 3 seeds, most of α
  is left for the cap, so a comparison that goes to the cap loses little power against a
  fixed design of that size, and clear differences still stop early.
  ``spending="pocock"`` (``α·ln(1 + (e − 1)t)``) spends evenly.
- **Exact t boundaries**: the boundaries of the one-sample t-statistic of the paired
  differences (unknown variance, ``n_k − 1`` degrees of freedom at look k) are computed on
  its exact null law for normal differences, by numerical integration as Jennison &
  Turnbull (1991, *Exact calculations for sequential t, χ² and F tests*, Biometrika 78)
  do; here through a one-dimensional Markov chain (see :func:`t_boundaries`). The usual
  shortcut, normal-theory boundaries (Jennison & Turnbull 2000, *Group Sequential
  Methods with Applications to Clinical Trials*, ch. 19) turned into t-quantiles of equal
  nominal level (their §11.4), is not valid at 3–10 seeds: simulated, it lets the
  false-positive rate reach 5.7%.
- **Three tests, each its own design**: the two-sided test of "no difference" (symmetric
  boundaries, level α; crossing gives *better* / *worse*) and the two one-sided tests of
  TOST (Schuirmann 1987), "difference ≤ −M" and "difference ≥ +M", each with one-sided
  boundaries at level α; *equivalent* when both cross at the same look. Stopping for one
  of them only removes chances for the others to err (the boundaries are non-binding),
  so each keeps its error rate. When the superiority and the equivalence boundaries are
  crossed at the same look, the verdict is *equivalent* (a real difference smaller than
  the margin).
- **Repeated confidence intervals and p-values** (Jennison & Turnbull 2000, ch. 9): the
  interval of the difference at look k is ``mean ± b_k·s/√n_k`` with ``b_k`` the two-sided
  t-boundary, and holds at every look simultaneously with probability ≥ 1 − α; the
  repeated p-value is the smallest α' whose design would have crossed at a look so far.
- **Multiplicity**: Holm (1979) over the family of comparisons against the baseline, run
  separately on the superiority tests and on the equivalence tests (the TOST p-value is the
  larger of the two one-sided ones: an intersection-union test). With repeated p-values
  this is a valid step-down: each running-minimum repeated p-value is a valid p-value
  whatever the stopping, so Holm over them bounds the familywise rate of false
  "better"/"worse" claims, and separately of false "equivalent" claims, by α. Decisions
  are made with boundaries at the levels α/m, α/(m−1), … (never with rounded p-values);
  once made they stay made, since later rejections only raise the other levels.

The guarantees, measured by :func:`simulate` (``bench/verdict_simulation.py`` prints them;
``docs/compare.md`` has the figures), with looks at 3..10 seeds:

- false "better"/"worse" at a true difference of 0: ≤ 5% at every SD -- exactly 5% for
  normal differences that never stop for equivalence (0.0497 ± 0.0002 over 900,000
  replications), less otherwise; less again for heavy tails (t with 3 df);
- false "equivalent" at a true difference of exactly ±margin: ≤ 5% (at most 4.5%);
- power ("better" at a true difference of 2×margin) ≥ 80% within 10 seeds while the SD of
  the paired differences is at most about 1.85× the margin (0.94 at 1.5×, 0.76 at 2×);
- "equivalent" at a true difference of 0 in most replications while that SD is at most
  about 1.15× the margin (0.71 at 1×, 0.19 at 1.5×). Beyond, the cap is reached and the
  verdict says so; :func:`~.stats.seeds_needed` says how many seeds would resolve it.

Pure numpy/scipy: no training here. :func:`sequential_verdict` decides one comparison,
:func:`sequential_family` a family with Holm, :func:`next_round` says which variants need
more seeds, :func:`simulate` measures the error rates.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import optimize, special
from scipy import stats as sps

from poolstride.errors import PoolstrideError, unknown
from poolstride.experiment.stats import (
    BETTER,
    EQUIVALENT,
    NOT_TESTED,
    UNDECIDED,
    WORSE,
    Verdict,
    holm,
)

SPENDING = ("obf", "pocock")


# --- α spending and boundaries ----------------------------------------------------------


def spend(t: float | np.ndarray, alpha: float, spending: str = "obf") -> np.ndarray:
    """Cumulative α spent by information fraction ``t`` (Lan & DeMets 1983).

    ``"obf"``: ``2 − 2Φ(z_{1−α/2}/√t)`` (O'Brien–Fleming type); ``"pocock"``:
    ``α·ln(1 + (e − 1)t)`` (Pocock type). Both give 0 at ``t = 0`` and ``α`` at ``t ≥ 1``.
    """
    if spending not in SPENDING:
        raise unknown("spending function", spending, SPENDING)
    t = np.clip(np.asarray(t, dtype=float), 0.0, 1.0)
    if spending == "obf":
        with np.errstate(divide="ignore"):
            out = 2 * sps.norm.sf(sps.norm.isf(alpha / 2) / np.sqrt(t))
    else:
        out = alpha * np.log1p((math.e - 1) * t)
    return np.where(t >= 1.0, alpha, out)


def _increments(fractions: np.ndarray, alpha: float, two_sided: bool, spending: str) -> np.ndarray:
    """α spent at each look; two-sided = symmetric, each side spending α/2 with the
    one-sided function (the usual convention, e.g. gsDesign and rpact)."""
    if two_sided:
        cum = 2 * spend(fractions, alpha / 2, spending)
    else:
        cum = spend(fractions, alpha, spending)
    return np.diff(np.concatenate([[0.0], cum]))


def _simpson(a: float, b: float, points: int) -> tuple[np.ndarray, np.ndarray]:
    x = np.linspace(a, b, points)
    w = np.ones(points)
    w[1:-1:2], w[2:-1:2] = 4.0, 2.0
    return x, w * (b - a) / (3 * (points - 1))


@lru_cache(maxsize=256)
def z_boundaries(
    fractions: tuple[float, ...], alpha: float, two_sided: bool, spending: str = "obf"
) -> tuple[float, ...]:
    """Known-variance (normal) boundaries ``c_k`` at information ``fractions`` (cached).

    The reference the t-boundaries converge to as the seeds grow, and the check of the
    spending convention against published tables (tests). One-sided: reject at look k when
    ``Z_k ≥ c_k``, with ``P(first crossing at look k) = α(t_k) − α(t_{k−1})`` under the null;
    ``two_sided``: ``|Z_k| ≥ c_k``, each side spending ``α/2``. Recursive numerical
    integration of the score process ``S_k = Z_k·√t_k`` (independent normal increments),
    Simpson's rule on the continuation region (Jennison & Turnbull 2000, ch. 19). ``inf``
    where a look spends nothing.
    """
    t = np.asarray(fractions, dtype=float)
    if t.size == 0 or np.any(t <= 0) or np.any(t > 1) or np.any(np.diff(t) <= 0):
        raise PoolstrideError(f"information fractions must increase within (0, 1]: {fractions}")
    inc = _increments(t, alpha, two_sided, spending)
    bounds: list[float] = []
    x = w = f = None
    prev = 0.0
    for tk, a in zip(t, inc):
        sd = math.sqrt(tk - prev)
        root = math.sqrt(tk)
        if a <= 0:
            c = math.inf
        elif x is None:  # first look: S_1 ~ N(0, t_1)
            c = float(sps.norm.isf(a / 2 if two_sided else a))
        else:
            mass = w * f
            lo_c = 0.0 if two_sided else -8.0  # one-sided boundaries go negative past α=½

            def cross(c: float, mass=mass, x=x, sd=sd, root=root) -> float:
                p = special.ndtr((x - c * root) / sd)
                if two_sided:
                    p = p + special.ndtr((-c * root - x) / sd)
                return float(mass @ p)

            c = float(optimize.brentq(lambda c, a=a: cross(c) - a, lo_c, 60.0, xtol=1e-12))
        bounds.append(c)
        # sub-density of S_k on its continuation region (truncated at 9 SDs of N(0, t_k))
        hi = min(c * root, 9 * root)
        lo = -hi if two_sided else -9 * root
        y, wy = _simpson(lo, hi, 201)
        if x is None:
            fy = sps.norm.pdf(y / root) / root
        else:
            z = (y[:, None] - x[None, :]) / sd
            fy = np.exp(-0.5 * z * z) @ (w * f) / (sd * math.sqrt(2 * math.pi))
        x, w, f, prev = y, wy, fy, tk
    return tuple(bounds)


# Exact boundaries for the t-statistic. Under the null (normal differences, any σ) the
# direction of the data vector x_1..n is independent of its length |x|, and every T_j with
# j ≤ n is a function of that direction. So τ_n = S_n / (√n·|x|) -- with T_n =
# τ_n·√(n−1)/√(1−τ_n²) -- is a Markov chain: with u = x_{n+1}/|x| ~ t_n/√n independent of the
# past, τ_{n+1} = (τ_n·√n + u) / (√(n+1)·√(1 + u²)). We carry the chain on the scale
# ζ_n = Φ⁻¹(F_{t,n−1}(T_n)), on which T_n is exactly N(0, 1) before any truncation, as
# masses on a grid; one seed is one dense transition matrix (cached per n). Numerical
# integration of the exact law, as Jennison & Turnbull (1991) do for sequential t-tests.
_ZMAX = 9.0
_ZGRID = 801  # grid points for ζ
_UGRID = 161  # quadrature nodes for the new observation


def _zeta(t: np.ndarray, df: int) -> np.ndarray:
    """ζ = Φ⁻¹(F_t(T)) with ``df`` degrees of freedom, from the tail for precision."""
    tail = np.clip(special.stdtr(df, -np.abs(t)), 1e-300, 0.5)
    return -np.sign(t) * special.ndtri(tail)


def _t_of_zeta(z: np.ndarray, df: int) -> np.ndarray:
    return -np.sign(z) * special.stdtrit(df, special.ndtr(-np.abs(z)))


@lru_cache(maxsize=64)
def _transition(n: int) -> np.ndarray:
    """Row-stochastic matrix of ζ_n -> ζ_{n+1} on the grid (one more seed)."""
    g = np.linspace(-_ZMAX, _ZMAX, _ZGRID)
    h = g[1] - g[0]
    t = _t_of_zeta(g, n - 1)
    with np.errstate(invalid="ignore"):
        s = np.where(np.isinf(t), np.sign(t), t / np.sqrt(n - 1 + t * t)) * math.sqrt(n)
    w, om = _simpson(-_ZMAX, _ZMAX, _UGRID)
    om = om * np.exp(-0.5 * w * w)
    om /= om.sum()
    u = _t_of_zeta(w, n) / math.sqrt(n)
    s2 = s[:, None] + u[None, :]
    rest = (n + 1) * (1 + u * u)[None, :] - s2 * s2  # (n+1)|x'|² − S'², ≥ 0
    with np.errstate(divide="ignore", invalid="ignore"):
        t2 = s2 * math.sqrt(n) / np.sqrt(np.maximum(rest, 0.0))
    pos = (np.clip(_zeta(t2, n), -_ZMAX, _ZMAX) + _ZMAX) / h
    j = np.minimum(np.floor(pos).astype(int), _ZGRID - 2)
    frac = (pos - j).ravel()
    idx = (np.arange(_ZGRID)[:, None] * _ZGRID + j).ravel()
    wts = np.broadcast_to(om, j.shape).ravel()
    size = _ZGRID * _ZGRID
    p = np.bincount(idx, wts * (1 - frac), size) + np.bincount(idx + 1, wts * frac, size)
    return p.reshape(_ZGRID, _ZGRID)


def _zeta_bounds(looks: tuple[int, ...], inc: Sequence[float], two_sided: bool) -> np.ndarray:
    """Boundaries on the ζ scale of each look (``inf`` where a look spends nothing)."""
    g = np.linspace(-_ZMAX, _ZMAX, _ZGRID)
    h = g[1] - g[0]
    edges = np.concatenate([g - h / 2, [g[-1] + h / 2]])
    mid = np.concatenate([[-np.inf], (g[:-1] + g[1:]) / 2, [np.inf]])
    m = np.diff(special.ndtr(mid))  # ζ at the first look: N(0, 1) cell masses
    out: list[float] = []
    n = looks[0]
    for nk, a in zip(looks, inc):
        while n < nk:
            m = m @ _transition(n)
            n += 1
        if a <= 0:
            out.append(math.inf)
            continue
        # mass beyond each cell edge, mass spread evenly within its cell
        above = np.concatenate([np.cumsum(m[::-1])[::-1], [0.0]])
        if two_sided:
            below = np.concatenate([[0.0], np.cumsum(m)])
            tail, e = (above + below[::-1])[_ZGRID // 2 + 1 :], edges[_ZGRID // 2 + 1 :]
        else:
            tail, e = above, edges
        c = float(e[0]) if a >= tail[0] else float(np.interp(-a, -tail, e))
        keep = np.clip((c - (g - h / 2)) / h, 0.0, 1.0)
        if two_sided:
            keep = keep * np.clip((g + h / 2 + c) / h, 0.0, 1.0)
        m = m * keep
        out.append(c)
    return np.asarray(out)


@lru_cache(maxsize=512)
def t_boundaries(
    looks: tuple[int, ...],
    max_seeds: int,
    alpha: float,
    two_sided: bool,
    spending: str = "obf",
) -> tuple[float, ...]:
    """Exact t-statistic boundaries for looks after ``looks`` seeds (cached).

    ``P(first crossing at look k) = α(n_k/max_seeds) − α(n_{k−1}/max_seeds)`` for the
    one-sample t-statistic of normal differences with unknown variance, each look with its
    own ``n_k − 1`` degrees of freedom; ``two_sided`` spends α/2 per side. Computed on the
    exact null law (see the comment above); the grid puts each look's crossing probability
    within about 1% of its target, checked by simulation in the tests. The normal-theory
    boundaries converted look by look to t-quantiles (the "significance level approach")
    would let the false-positive rate reach 5.7% here with 3–10 seeds (simulated): with so
    few degrees of freedom the joint law of the looks' t-statistics is not the normal one.
    """
    if not looks or looks[0] < 2 or list(looks) != sorted(set(looks)) or looks[-1] > max_seeds:
        raise PoolstrideError(f"looks must increase within 2..{max_seeds}: {looks}")
    fractions = np.asarray(looks, dtype=float) / max_seeds
    z = _zeta_bounds(looks, _increments(fractions, alpha, two_sided, spending), two_sided)
    out = [float(_t_of_zeta(c, n - 1)) if math.isfinite(c) else math.inf for c, n in zip(z, looks)]
    return tuple(out)


#: levels at which boundaries are tabulated for repeated p-values (interpolated between)
_P_LEVELS = np.concatenate([10.0 ** np.linspace(-7, -0.25, 28), [0.75, 0.9, 0.99]])


@lru_cache(maxsize=64)
def _level_table(
    looks: tuple[int, ...], max_seeds: int, two_sided: bool, spending: str
) -> np.ndarray:
    """ζ-boundaries (levels × looks) of the designs at :data:`_P_LEVELS`."""
    fractions = np.asarray(looks, dtype=float) / max_seeds
    return np.stack(
        [
            _zeta_bounds(looks, _increments(fractions, lv, two_sided, spending), two_sided)
            for lv in _P_LEVELS
        ]
    )


# --- the design -------------------------------------------------------------------------


@dataclass(frozen=True)
class Design:
    """When to look and how much error to allow.

    Looks after ``first``, ``first + step``, … seeds and at ``max_seeds`` (the cap);
    ``alpha`` bounds each error rate (false better/worse; false equivalent);
    ``spending`` is the α-spending function (:func:`spend`).
    """

    first: int = 3
    step: int = 1
    max_seeds: int = 10
    alpha: float = 0.05
    spending: str = "obf"

    def __post_init__(self) -> None:
        if not 2 <= self.first <= self.max_seeds:
            raise PoolstrideError(
                f"first look needs 2 ≤ first ≤ max_seeds, got first={self.first}, "
                f"max_seeds={self.max_seeds}"
            )
        if self.step < 1:
            raise PoolstrideError(f"step must be at least 1, got {self.step}")
        if not 0 < self.alpha < 1:
            raise PoolstrideError(f"alpha must be between 0 and 1, got {self.alpha}")
        if self.spending not in SPENDING:
            raise unknown("spending function", self.spending, SPENDING)

    @property
    def looks(self) -> tuple[int, ...]:
        """Seed counts at which the planned looks happen (the last is ``max_seeds``)."""
        out = list(range(self.first, self.max_seeds, self.step))
        return tuple(out + [self.max_seeds])

    def history(self, n: int) -> tuple[int, ...]:
        """The looks a comparison with ``n`` pairs has had: planned ones up to ``n``, and
        ``n`` itself when it is not a planned look (runs failed, or a different start)."""
        if n > self.max_seeds:
            raise PoolstrideError(
                f"{n} paired seeds exceed the design's cap max_seeds={self.max_seeds}"
            )
        past = [k for k in self.looks if 2 <= k <= n]
        if n >= 2 and (not past or past[-1] != n):
            past.append(n)
        return tuple(past)

    def next_look(self, n: int) -> int:
        """The seed count of the next planned look after ``n`` (capped at ``max_seeds``)."""
        return next((k for k in self.looks if k > n), self.max_seeds)


# --- deciding ---------------------------------------------------------------------------


def _look_stats(d: np.ndarray, looks: Sequence[int], margin: float | None) -> np.ndarray:
    """Per look (rows): mean, se, t of "no difference", min of the two TOST statistics.

    ``d`` may be 2-D (replications × seeds): then the result is (replications, looks, 4).
    Zero variance gives ±inf statistics (0 where the numerator is 0 as well).
    """
    d = np.atleast_2d(d)
    ks = np.asarray(looks)
    inside = np.arange(d.shape[-1])[None, :] < ks[:, None]  # (looks, seeds)
    mean = (d @ inside.T) / ks
    dev = (d[:, None, :] - mean[:, :, None]) * inside  # two-pass: exact for near-constant d
    var = np.einsum("rks,rks->rk", dev, dev) / (ks - 1)
    same = np.logical_and.accumulate(d == d[:, :1], axis=1)[:, ks - 1]
    var[same] = 0.0  # constant differences: exactly zero variance
    se = np.sqrt(var / ks)

    def ratio(num: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(se > 0, num / se, np.sign(num) * np.inf)

    t0 = np.where((se == 0) & (mean == 0), 0.0, ratio(mean))
    if margin is None:
        teq = np.full_like(mean, -np.inf)
    else:
        teq = np.minimum(ratio(mean + margin), ratio(margin - mean))
    return np.stack([mean, se, t0, teq], axis=-1)


def _first_crossing(st: np.ndarray, b2: Sequence[float], b1: Sequence[float]) -> np.ndarray:
    """Index of the first look whose superiority / equivalence boundary is crossed.

    ``st``: (replications, looks, 4) from :func:`_look_stats`. Returns (replications, 2):
    first superiority crossing, first equivalence crossing; ``looks`` (one past the last
    index) where none.
    """
    sup = np.abs(st[..., 2]) >= np.asarray(b2)
    eq = st[..., 3] >= np.asarray(b1)
    k = st.shape[1]
    first = np.where(sup.any(axis=1), sup.argmax(axis=1), k)
    first_eq = np.where(eq.any(axis=1), eq.argmax(axis=1), k)
    return np.stack([first, first_eq], axis=-1)


def _outcome(first_sup: np.ndarray, first_eq: np.ndarray, k: int) -> np.ndarray:
    """0 undecided, 1 superiority (better/worse by sign), 2 equivalent: the earlier
    crossing decides, ties go to equivalence."""
    out = np.zeros(first_sup.shape, dtype=int)
    out[first_sup < k] = 1
    out[(first_eq < k) & (first_eq <= first_sup)] = 2
    return out


def _bounds(looks: tuple[int, ...], design: Design, level: float) -> tuple[tuple, tuple]:
    level = min(level, 1 - 1e-12)
    return (
        t_boundaries(looks, design.max_seeds, level, True, design.spending),
        t_boundaries(looks, design.max_seeds, level, False, design.spending),
    )


def _repeated_p(st: np.ndarray, looks: tuple[int, ...], design: Design, which: int) -> float:
    """Repeated p-value: the smallest level whose design crosses at some look so far
    (``which``: 2 superiority, 3 equivalence). Interpolated (monotone cubic in log level)
    from boundaries tabulated at :data:`_P_LEVELS`, to about 1% -- for display; decisions
    use the boundaries at the Holm levels themselves. Floored at 1e-7."""
    from scipy.interpolate import PchipInterpolator

    two_sided = which == 2
    table = _level_table(looks, design.max_seeds, two_sided, design.spending)
    logs = np.log(_P_LEVELS)
    stat = np.abs(st[:, 2]) if two_sided else st[:, 3]
    best = 1.0
    for k, n in enumerate(looks):
        z = float(_zeta(np.array(stat[k]), n - 1)) if np.isfinite(stat[k]) else stat[k]
        col = table[:, k]
        ok = np.isfinite(col)
        if not ok.any() or z < col[ok][-1]:
            continue  # does not cross even at the largest tabulated level
        if z >= col[ok][0]:
            return float(_P_LEVELS[ok][0])
        # boundaries fall as the level rises: interpolate log level against -ζ
        f = PchipInterpolator(-col[ok], logs[ok])
        best = min(best, float(np.exp(f(-z))))
    return best


def sequential_family(
    diffs: Mapping[str, Sequence[float]],
    margin: float | None,
    design: Design | None = None,
    higher_is_better: bool = True,
    looks: Mapping[str, Sequence[int]] | None = None,
    pvalues: bool = True,
) -> dict[str, Verdict]:
    """Verdicts of a family of sequential comparisons against one baseline, Holm-corrected.

    ``diffs`` maps each variant to its paired differences ``variant − baseline`` in the
    order the seeds were run. ``looks`` (optional) gives each variant's past looks (seed
    counts at which it was evaluated); by default :meth:`Design.history`. The Holm step-down
    runs separately on the superiority tests and the equivalence tests: with ``m`` tested
    comparisons and ``r`` already rejected, a comparison is rejected when some past look
    crosses the boundary of the level-``α/(m − r)`` design. ``pvalues=False`` skips the
    repeated p-values (NaN), which cost a bisection each (the simulation does without).

    A verdict's ``n`` (and ``decided_at``) is the seed count of the look that decided it;
    undecided ones report their current ``n`` and ``capped`` when it is the cap.
    """
    design = design or Design()
    names = list(diffs)
    data: dict[str, np.ndarray] = {}
    hist: dict[str, tuple[int, ...]] = {}
    for v in names:
        d = np.asarray(diffs[v], dtype=float).ravel()
        data[v] = d[np.isfinite(d)]
        if looks is not None and v in looks:
            h = tuple(int(k) for k in looks[v])
            if any(k < 2 or k > data[v].size for k in h) or list(h) != sorted(set(h)):
                raise PoolstrideError(
                    f"looks for {v!r} must increase within 2..{data[v].size}: {h}"
                )
            hist[v] = h
        else:
            hist[v] = design.history(int(data[v].size))
    tested = [v for v in names if hist[v]]
    stats = {v: _look_stats(data[v], hist[v], margin)[0] for v in tested}

    def holm_levels(which: int) -> dict[str, tuple[int, float]]:
        """variant -> (first crossing look index at its Holm level, level)."""
        m = len(tested)
        done: dict[str, tuple[int, float]] = {}
        while len(done) < m:
            level = design.alpha / (m - len(done))
            new = {}
            for v in tested:
                if v in done:
                    continue
                b2, b1 = _bounds(hist[v], design, level)
                fc = _first_crossing(stats[v][None], b2, b1)[0, 0 if which == 2 else 1]
                if fc < len(hist[v]):
                    new[v] = (int(fc), level)
            if not new:
                break
            done.update(new)
        return done

    sup = holm_levels(2)
    eq = holm_levels(3) if margin is not None else {}
    p_sup = {v: math.nan for v in names}
    p_eq = dict(p_sup)
    if pvalues:
        for v in tested:
            p_sup[v] = _repeated_p(stats[v], hist[v], design, 2)
            if margin is not None:
                p_eq[v] = _repeated_p(stats[v], hist[v], design, 3)
    adj_sup = dict(zip(names, holm([p_sup[v] for v in names])))
    adj_eq = dict(zip(names, holm([p_eq[v] for v in names])))

    out = {}
    for v in names:
        h = hist[v]
        method = (
            f"group-sequential paired t + TOST ({design.spending} spending, looks "
            f"{','.join(map(str, design.looks))}, Holm)"
        )
        if not h:
            d = data[v]
            mean = float(d.mean()) if d.size else math.nan
            out[v] = Verdict(
                NOT_TESTED, mean, math.nan, math.nan, int(d.size), margin, math.nan,
                math.nan, math.nan, math.nan, False, method,
            )  # fmt: skip
            continue
        k = len(h)
        fs = np.array([sup[v][0] if v in sup else k])
        fe = np.array([eq[v][0] if v in eq else k])
        kind_code = int(_outcome(fs, fe, k)[0])
        at = {0: k - 1, 1: int(fs[0]), 2: int(fe[0])}[kind_code]
        mean, se, t0 = stats[v][at, :3]
        b2 = _bounds(h, design, design.alpha)[0][at]
        half = b2 * se if math.isfinite(b2) else math.inf
        if kind_code == 2:
            kind = EQUIVALENT
        elif kind_code == 1:
            kind = BETTER if (t0 > 0) == higher_is_better else WORSE
        else:
            kind = UNDECIDED
        out[v] = Verdict(
            kind,
            float(mean),
            float(mean - half) if se > 0 else float(mean),
            float(mean + half) if se > 0 else float(mean),
            h[at],
            margin,
            p_sup[v],
            adj_sup[v],
            p_eq[v],
            adj_eq[v],
            v in sup and int(sup[v][0]) <= at,
            method,
            decided_at=h[at] if kind_code else None,
            capped=not kind_code and h[-1] >= design.max_seeds,
        )
    return out


def sequential_verdict(
    diffs: Sequence[float],
    margin: float | None,
    design: Design | None = None,
    higher_is_better: bool = True,
    looks: Sequence[int] | None = None,
    pvalues: bool = True,
) -> Verdict:
    """The sequential verdict of one comparison (a family of one; see
    :func:`sequential_family`): the first look at which a boundary is crossed decides."""
    lk = None if looks is None else {"_": looks}
    return sequential_family({"_": diffs}, margin, design, higher_is_better, lk, pvalues)["_"]


def next_round(verdicts: Mapping[str, Verdict], design: Design | None = None) -> dict[str, int]:
    """Which variants need more seeds, and how many paired seeds each should reach.

    ``verdicts`` maps variant -> its current :class:`~.stats.Verdict` (from
    :func:`sequential_family`). Undecided and not-tested comparisons below the cap get the
    seed count of the next planned look; decided and capped ones are left out. An empty
    result means every comparison is decided or at the cap. The baseline must have at least
    the largest target, since every comparison is paired with it.
    """
    design = design or Design()
    return {
        v: design.next_look(ver.n)
        for v, ver in verdicts.items()
        if ver.kind in (UNDECIDED, NOT_TESTED) and ver.n < design.max_seeds
    }


# --- proof by simulation ----------------------------------------------------------------


@dataclass(frozen=True)
class SimResult:
    """Rates over ``reps`` simulated comparisons, each with its Monte-Carlo standard error
    ``√(r(1 − r)/reps)``."""

    true_diff: float
    sd: float
    margin: float
    dist: str
    reps: int
    better: float
    worse: float
    equivalent: float
    undecided: float
    mean_seeds: float

    def se(self, rate: float) -> float:
        return math.sqrt(rate * (1 - rate) / self.reps)

    @property
    def different(self) -> float:
        """Rate of "better" or "worse" (the false-positive rate when ``true_diff = 0``)."""
        return self.better + self.worse


def draw(
    rng: np.random.Generator, reps: int, n: int, true_diff: float, sd: float, dist: str
) -> np.ndarray:
    """Paired differences with mean ``true_diff`` and SD ``sd``: ``"normal"`` or ``"t3"``
    (Student t with 3 df scaled to SD ``sd``: heavy tails, finite variance)."""
    if dist == "normal":
        z = rng.standard_normal((reps, n))
    elif dist == "t3":
        z = rng.standard_t(3, (reps, n)) / math.sqrt(3.0)
    else:
        raise unknown("distribution", dist, ("normal", "t3"))
    return true_diff + sd * z


def simulate(
    true_diff: float,
    sd: float,
    margin: float,
    design: Design | None = None,
    reps: int = 2000,
    dist: str = "normal",
    seed: int = 0,
    higher_is_better: bool = True,
) -> SimResult:
    """Run the sequential rule on ``reps`` simulated comparisons (no training).

    Every replication draws ``max_seeds`` paired differences (:func:`draw`) and is looked
    at after each planned look's seeds, stopping at the first crossing -- exactly what
    :func:`sequential_verdict` decides on the same data (tests check that), vectorised.
    """
    design = design or Design()
    rng = np.random.default_rng(seed)
    d = draw(rng, reps, design.max_seeds, true_diff, sd, dist)
    looks = design.looks
    st = _look_stats(d, looks, margin)
    b2, b1 = _bounds(looks, design, design.alpha)
    fc = _first_crossing(st, b2, b1)
    k = len(looks)
    code = _outcome(fc[:, 0], fc[:, 1], k)
    at = np.where(code == 1, fc[:, 0], np.where(code == 2, fc[:, 1], k - 1))
    seeds = np.asarray(looks)[at]
    sign = st[np.arange(reps), np.minimum(fc[:, 0], k - 1), 2] > 0
    up = sign if higher_is_better else ~sign
    return SimResult(
        true_diff,
        sd,
        margin,
        dist,
        reps,
        better=float(np.mean((code == 1) & up)),
        worse=float(np.mean((code == 1) & ~up)),
        equivalent=float(np.mean(code == 2)),
        undecided=float(np.mean(code == 0)),
        mean_seeds=float(seeds.mean()),
    )


@dataclass(frozen=True)
class FamilySimResult:
    """Rates over ``reps`` simulated families (comparisons sharing one baseline)."""

    true_diffs: tuple[float, ...]
    sd: float
    margin: float
    dist: str
    reps: int
    false_different: float  # ≥ 1 "better"/"worse" among comparisons with true diff 0
    false_equivalent: float  # ≥ 1 "equivalent" among comparisons with |true diff| ≥ margin
    decided: tuple[float, ...]  # per comparison: share of replications decided
    mean_seeds: tuple[float, ...]  # per comparison: paired seeds used
    mean_baseline_seeds: float

    def se(self, rate: float) -> float:
        return math.sqrt(rate * (1 - rate) / self.reps)


def simulate_family(
    true_diffs: Sequence[float],
    sd: float,
    margin: float,
    design: Design | None = None,
    reps: int = 1000,
    dist: str = "normal",
    seed: int = 0,
) -> FamilySimResult:
    """The whole seeds-until-decided loop on simulated families, Holm included.

    Each arm (baseline and every variant) gets independent per-seed noise of SD
    ``sd/√2`` (:func:`draw`), so each paired difference has SD ``sd`` and two comparisons
    sharing the baseline correlate 0.5. Rounds follow :func:`next_round` until it returns
    nothing; verdicts come from :func:`sequential_family`, as a runner would call them.
    """
    design = design or Design()
    rng = np.random.default_rng(seed)
    m, cap = len(true_diffs), design.max_seeds
    noise = sd / math.sqrt(2)
    names = [f"v{j}" for j in range(m)]
    false_diff = false_eq = 0
    decided = np.zeros(m)
    seeds = np.zeros(m)
    base_seeds = 0.0
    for _ in range(reps):
        base = draw(rng, 1, cap, 0.0, noise, dist)[0]
        arms = {v: draw(rng, 1, cap, mu, noise, dist)[0] for v, mu in zip(names, true_diffs)}
        n = dict.fromkeys(names, design.first)
        while True:
            verdicts = sequential_family(
                {v: arms[v][: n[v]] - base[: n[v]] for v in names}, margin, design, pvalues=False
            )
            more = next_round(verdicts, design)
            if not more:
                break
            n.update(more)
        kinds = [verdicts[v].kind for v in names]
        false_diff += any(k in (BETTER, WORSE) for k, mu in zip(kinds, true_diffs) if mu == 0)
        false_eq += any(k == EQUIVALENT for k, mu in zip(kinds, true_diffs) if abs(mu) >= margin)
        decided += [k in (BETTER, WORSE, EQUIVALENT) for k in kinds]
        seeds += [n[v] for v in names]
        base_seeds += max(n.values())
    return FamilySimResult(
        tuple(float(x) for x in true_diffs),
        sd,
        margin,
        dist,
        reps,
        false_diff / reps,
        false_eq / reps,
        tuple(float(x) for x in decided / reps),
        tuple(float(x) for x in seeds / reps),
        base_seeds / reps,
    )
