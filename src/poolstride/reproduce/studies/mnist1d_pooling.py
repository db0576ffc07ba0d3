"""``mnist1d-pooling``: pooling against striding at several training-set sizes on MNIST-1D.

Source: Greydanus & Kobak, "Scaling down deep learning with MNIST-1D" (arXiv:2011.14439,
ICML 2024), and its notebook ``notebooks/9. benchmark_pooling.ipynb`` (github.com/greydanus/
mnist1d), which states: "pooling is better than striding (or no pooling) on small datasets,
but the discrepancy decreases as the number of training examples increase".

The notebook's network (``ConvPooling``): two 3-tap convolutions with 20 channels and a ReLU,
each followed by the downsampling under test, then a linear layer on the flattened features;
five settings -- ``no_pool``, ``stride_2`` (both convolutions with stride 2), ``max_pool``,
``avg_pool``, ``l2_pool`` (all with window 2) -- trained with Adam (lr 0.01, batch 100, 6000
steps, no weight decay) on 1,000 to 50,000 generated training examples, one run each, tested
on 1,000.

Here: the ``simple`` backbone at ``depth=2``, ``width=20``, ``head=flatten`` with the variants
``none``, ``subsample`` (the block's convolution at stride 2: the notebook's ``stride_2``),
``max``, ``avg``, ``lp`` (p = 2). Differences: ``simple`` uses 5-tap convolutions with
BatchNorm (its fixed 1D defaults; the grid cannot set model options), and the data is one
MNIST-1D generation of 20,000 examples (the package's own ``make_dataset`` with
``num_samples=20000`` and its default 80/20 split and seed: 16,000 training, 4,000 test
examples); the training sets are stratified subsets of its 16,000, from 500 to 16,000, and
every size is tested on the same 4,000 examples (the notebook tests on 1,000).

Published numbers: the notebook gives a figure and its printed training log, one run per
setting; the table quotes the logged test accuracy at step 6000 for the sizes we also run.
"""

from __future__ import annotations

import math
from pathlib import Path

from poolstride.experiment.stats import mean_ci
from poolstride.reproduce import study
from poolstride.reproduce.claims import (
    diff_sentence,
    pair,
    pair_sentence,
    seed_values,
    verdict,
    welch,
    with_holm,
)
from poolstride.reproduce.study import ClaimCheck, Grid, Published, Recipe, Study, StudyResults

#: Our variants, in the notebook's order; the notebook's names for them.
VARIANTS = ("none", "subsample", "max", "avg", "lp")
PAPER_NAMES = {
    "none": "no_pool",
    "subsample": "stride_2",
    "max": "max_pool",
    "avg": "avg_pool",
    "lp": "l2_pool",
}
POOLING = ("max", "avg", "lp")
STRIDING = "subsample"

#: The notebook's logged test accuracy (%) at step 6000, one run per setting, by training size.
NOTEBOOK_ACCURACY = {
    1000: {"none": 59.2, "subsample": 57.4, "max": 78.2, "avg": 78.0, "lp": 77.2},
    2000: {"none": 82.0, "subsample": 81.7, "max": 89.2, "avg": 90.0, "lp": 89.9},
}
WHERE = "notebook 9 (benchmark_pooling), training log at step 6000, one run"

#: The training-set sizes of both budgets' grids (up to the generation's 16,000).
SIZES = (500, 1000, 2000, 4000, 8000, 16000)

#: One MNIST-1D generation of 20,000 examples (80/20 split: 16,000 train, 4,000 test).
GENERATION = "num_samples=20000"

#: Training options shared by every grid: the notebook's network and optimiser.
MODEL = dict(
    dataset="mnist1d",
    data_options=GENERATION,
    model="simple",
    depth=2,
    width=20,
    head="flatten",
    variants=VARIANTS,
    baseline=STRIDING,
    optimizer="adam",
    batch_size=100,
)


def grids(sizes, **training) -> tuple[Grid, ...]:
    """One grid per training-set size ``n`` (label ``n=N``, figure x = N)."""
    return tuple(Grid(f"n={n}", {**MODEL, **training, "train_size": n}, x=float(n)) for n in sizes)


CPU = Recipe(
    grids=grids(SIZES, lr=3e-3, schedule="cosine", steps=1500),
    seeds=3,
    minutes_cpu=36,  # measured: 35.5 min at load average 1.4-8.5 on 2 cores (nice 19)
    minutes_gpu=9,  # the four-size estimate (6) scaled by 6/4 grids; not measured
    notes=(
        "1,500 Adam steps (lr 3e-3, cosine) instead of 6,000 at a constant 0.01; sizes "
        "500-16,000 of a 20,000-example generation, tested on its 4,000; 3 seeds"
    ),
)
FULL = Recipe(
    grids=grids(SIZES, lr=1e-2, schedule="constant", steps=6000),
    seeds=10,
    minutes_cpu=135,  # the four-size estimates (90, 40) scaled by 6/4 grids; not measured
    minutes_gpu=60,
    notes=(
        "the notebook's optimiser (Adam, lr 0.01 constant, batch 100, 6,000 steps), 10 seeds; "
        "sizes 500-16,000 of a 20,000-example generation, tested on its 4,000"
    ),
)


def gaps(results, variants=POOLING, baseline=STRIDING) -> dict[int, float]:
    """Per seed: mean accuracy of the pooling ``variants`` minus striding's (fraction)."""
    base = seed_values(results, baseline)
    pooled = [seed_values(results, v) for v in variants]
    seeds = sorted(set(base).intersection(*pooled))
    return {s: sum(p[s] for p in pooled) / len(pooled) - base[s] for s in seeds}


def check(res: StudyResults) -> ClaimCheck:
    """Pooling beats striding at the smallest size (each pooling variant, paired by seed,
    Holm across the three), and the pooling-minus-striding gap is smaller at the largest
    size than at the smallest (Welch's t-test on the per-seed gaps)."""
    labels = [g.label for g in res.recipe.grids]
    small, large = res.grids[labels[0]], res.grids[labels[-1]]
    tests = with_holm([pair(small, v, STRIDING) for v in POOLING])
    reasons = [f"{labels[0]}: " + pair_sentence(v, STRIDING, t) for v, t in zip(POOLING, tests)]
    beats = [t.p_adj < 0.05 and t.diff > 0 for t in tests]
    loses = [t.p_adj < 0.05 and t.diff < 0 for t in tests]
    gap_small, gap_large = gaps(small), gaps(large)
    for label, results in zip(labels, (res.grids[lab] for lab in labels)):
        s = mean_ci(list(gaps(results).values()))
        reasons.append(
            f"{label}: pooling − striding gap {100 * s.mean:+.2f} points "
            f"(95% CI {100 * s.lo:.2f} to {100 * s.hi:.2f}, n={s.n})"
        )
    narrowing = welch(list(gap_small.values()), list(gap_large.values()))
    reasons.append(f"gap at {labels[0]} − gap at {labels[-1]}: {diff_sentence(narrowing)}")
    narrows = narrowing.p < 0.05 and narrowing.diff > 0
    widens = narrowing.p < 0.05 and narrowing.diff < 0
    return verdict(reasons, held=all(beats) and narrows, not_held=any(loses) or widens)


def figure(res: StudyResults, out_dir: Path) -> list[Path]:
    """Test accuracy (mean, 95% CI over seeds) against training-set size, one line per
    variant: ``accuracy_vs_size.png``."""
    fig, styles = study.new_figure(VARIANTS, (7.5, 4.2))
    ax = fig.subplots()
    sizes = [g.x for g in res.recipe.grids]
    for k, variant in enumerate(VARIANTS):
        stats = [
            mean_ci(list(seed_values(res.grids[g.label], variant).values()))
            for g in res.recipe.grids
        ]
        mean = [100 * s.mean for s in stats]
        err = [
            [100 * (s.mean - s.lo) if math.isfinite(s.lo) else 0 for s in stats],
            [100 * (s.hi - s.mean) if math.isfinite(s.hi) else 0 for s in stats],
        ]
        shift = 1 + 0.015 * (k - 2)  # a small horizontal offset so the error bars do not overlap
        style = styles[variant]
        ax.errorbar(
            [x * shift for x in sizes],
            mean,
            yerr=err,
            color=style.color,
            marker=style.marker,
            capsize=3,
            label=f"{variant} ({PAPER_NAMES[variant]})",
        )
    for n, row in NOTEBOOK_ACCURACY.items():
        for variant, value in row.items():
            ax.plot([n], [value], linestyle="none", marker="x", color=styles[variant].color)
    ax.set_xscale("log")
    ax.set_xticks(sizes, [f"{int(x):,}" for x in sizes])
    ax.minorticks_off()
    ax.set_xlabel("training examples")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("MNIST-1D: accuracy vs training-set size (95% CI over seeds; × = notebook, 1 run)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return study.save_png(fig, out_dir, "accuracy_vs_size.png")


STUDY = Study(
    name="mnist1d-pooling",
    title="MNIST-1D: pooling vs striding at several training-set sizes",
    citation=(
        "Greydanus & Kobak, Scaling down deep learning with MNIST-1D (arXiv:2011.14439, 2020; "
        "ICML 2024), notebook 9: benchmark_pooling"
    ),
    claim=(
        "Pooling beats striding on small training sets, and the gap narrows as the training "
        "set grows."
    ),
    budgets={"cpu": CPU, "full": FULL},
    published=tuple(
        Published(v, PAPER_NAMES[v], "test_acc", value, WHERE, grid=f"n={n}")
        for n, row in NOTEBOOK_ACCURACY.items()
        for v, value in row.items()
    ),
    check=check,
    figure=figure,
    url="https://github.com/greydanus/mnist1d/blob/master/notebooks/9.%20benchmark_pooling.ipynb",
)
