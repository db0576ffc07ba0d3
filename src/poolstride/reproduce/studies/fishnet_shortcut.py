"""``fishnet-shortcut``: do 1×1 convolutions in downsampling shortcuts hamper gradient flow?

Source: Sun, Pang, Shi, Yan & Ouyang, "FishNet: A Versatile Backbone for Image, Region, and
Pixel Level Prediction" (NeurIPS 2018, arXiv:1901.03495), §3.2: in residual networks the
1×1 convolutions of the shortcuts that change resolution ("isolated convolutions") make
direct gradient propagation from deep to shallow layers harder; FishNet keeps the shortcuts
free of them, downsampling by pooling and changing channels by concatenation. The paper gives
this as an argument and reports whole-network ImageNet results, not a table of the
shortcuts: there is no published number to put next to ours.

Here: a deep CIFAR ResNet (``resnet56``; its main path downsamples by strided convolutions,
``subsample``) with four downsampling shortcuts (``models/resnet.py``), one grid each:

- ``projection``: 1×1 stride-2 convolution → BN (He et al.'s option B: the "isolated" conv);
- ``avgpool-pad``: 2×2 average pooling + identity, new channels zero (option A, pooled);
- ``avgpool-concat``: 2×2 average and max pooling concatenated (parameter-free);
- ``resnet-d``: 2×2 average pooling → 1×1 conv → BN (ResNet-D).

Measured per run: the gradient norm of every layer on a fixed probe batch at initialisation
and after training (poolstride's gradient-flow metric, ``grad_norm_init``/``_final``) and the
test accuracy. The check's statistic is the *early-to-late ratio*: the gradient norm of the
first stage's convolutions (before both downsampling shortcuts) over that of the last stage's
(after them), per run, compared on a log scale with the projection shortcut's, paired by seed.
"""

from __future__ import annotations

import math
from pathlib import Path

from poolstride.experiment.stats import mean_ci, paired_test
from poolstride.reproduce import study
from poolstride.reproduce.claims import ALPHA, diff_sentence, seed_values, verdict, with_holm
from poolstride.reproduce.study import ClaimCheck, Grid, Published, Recipe, Study, StudyResults

SHORTCUTS = ("projection", "avgpool-pad", "avgpool-concat", "resnet-d")
POOLING = SHORTCUTS[1:]
VARIANT = "subsample"  # the main path's downsampling: strided convolutions
DEPTH = 56
WHERE = "§3.2 (an argument; no table)"


def grids(depth: int, width: int, **training) -> tuple[Grid, ...]:
    """One grid per shortcut (label = the shortcut's name)."""
    return study.option_grids(f"resnet{depth}", "shortcut", SHORTCUTS, VARIANT, width, **training)


CPU = Recipe(
    grids=grids(
        DEPTH,
        8,
        train_size=1000,
        **study.adam_cosine(40),
        eval_points=1,
    ),
    seeds=3,
    minutes_cpu=60,  # measured: the first two of four grids took 33 min at load average 6-13
    minutes_gpu=3,
    notes=(
        "ResNet-56 at half width (8), 1,000 training images, Adam lr 3e-3 cosine, 40 steps of "
        "64, 3 seeds per shortcut: the gradients at initialisation are the paper's question; "
        "the accuracies are of barely trained networks"
    ),
)
FULL = Recipe(
    grids=grids(
        110,
        16,
        **study.he_cifar(160),
    ),
    seeds=5,
    minutes_cpu=None,
    minutes_gpu=600,
    notes=(
        "ResNet-110 close to He et al.'s CIFAR-10 recipe (SGD 0.1, momentum 0.9, weight decay "
        "1e-4, 160 epochs, ×0.1 steps at 50%/75%, shift+flip augmentation), 5 seeds per shortcut"
    ),
)


def stage_norm(grads: dict, stage: int) -> float:
    """Root-sum-square of the gradient norms of stage ``stage``'s layers (``features.N.``)."""
    prefix = f"features.{stage}."
    return math.sqrt(sum(v * v for k, v in grads.items() if k.startswith(prefix)))


def early_to_late(results, when: str = "init") -> dict[int, float]:
    """``{seed: log10(stage-1 gradient norm / stage-3 gradient norm)}`` at ``init``/``final``."""
    out = {}
    for record in results.finished:
        grads = record.metrics.get(f"grad_norm_{when}")
        if record.variant != VARIANT or not isinstance(grads, dict):
            continue
        early, late = stage_norm(grads, 1), stage_norm(grads, 3)
        if early > 0 and late > 0:
            out[record.seed] = math.log10(early / late)
    return out


def versus_projection(res: StudyResults, shortcut: str, when: str = "init"):
    """``shortcut - projection`` on the log early-to-late ratio, paired by seed."""
    a, b = early_to_late(res.grids[shortcut], when), early_to_late(res.grids["projection"], when)
    seeds = sorted(set(a) & set(b))
    return paired_test([a[s] for s in seeds], [b[s] for s in seeds])


def check(res: StudyResults) -> ClaimCheck:
    """Held: every pooling shortcut passes relatively more gradient to the first stage than
    the projection shortcut at initialisation (log ratio, paired by seed, Holm across the
    three); did not hold: any passes significantly less; else inconclusive. The ratio after
    training and the accuracies are reported beside it."""
    reasons = []
    for label in SHORTCUTS:
        s = mean_ci(list(early_to_late(res.grids[label]).values()))
        f = mean_ci(list(early_to_late(res.grids[label], "final").values()))
        reasons.append(
            f"{label}: stage-1 / stage-3 gradient norm ×{10**s.mean:.2f} at init, "
            f"×{10**f.mean:.2f} after training (geometric means, n={s.n})"
        )
    tests = with_holm([versus_projection(res, sc) for sc in POOLING])
    for sc, t in zip(POOLING, tests):
        reasons.append(f"{sc} − projection, log10 gradient ratio at init: {_log_sentence(t)}")
    for sc in POOLING:
        t = versus_projection(res, sc, "final")
        reasons.append(f"{sc} − projection, after training: {_log_sentence(t)}")
    for sc in POOLING:
        acc = seed_values(res.grids[sc], VARIANT)
        base = seed_values(res.grids["projection"], VARIANT)
        seeds = sorted(set(acc) & set(base))
        t = paired_test([acc[s] for s in seeds], [base[s] for s in seeds])
        reasons.append(f"{sc} − projection: {diff_sentence(t)}")
    more = [t.p_adj < ALPHA and t.diff > 0 for t in tests]
    less = [t.p_adj < ALPHA and t.diff < 0 for t in tests]
    return verdict(reasons, held=bool(tests) and all(more), not_held=any(less))


def _log_sentence(t) -> str:
    if t.n < 2 or not math.isfinite(t.lo):
        return f"{t.diff:+.3f} (n={t.n}, cannot test)"
    p = t.p_adj if math.isfinite(t.p_adj) else t.p
    return f"{t.diff:+.3f} (95% CI {t.lo:.3f} to {t.hi:.3f}, p={p:.3g}, n={t.n})"


def depth_profile(results, when: str) -> list[float]:
    """Mean over seeds of each main-path layer's gradient norm, in depth order (the stem's
    conv, then every block's ``conv1`` and ``conv2``)."""
    runs = [
        r.metrics.get(f"grad_norm_{when}")
        for r in results.finished
        if r.variant == VARIANT and isinstance(r.metrics.get(f"grad_norm_{when}"), dict)
    ]
    if not runs:
        return []
    names = [k for k in runs[0] if k == "features.0.0" or k.endswith((".conv1", ".conv2"))]
    return [sum(run.get(name, math.nan) for run in runs) / len(runs) for name in names]


def figure(res: StudyResults, out_dir: Path) -> list[Path]:
    """Gradient norm per layer depth at initialisation and after training, one line per
    shortcut (mean over seeds): ``gradient_by_depth.png``."""
    fig, styles = study.new_figure(SHORTCUTS, (10, 4))
    axes = fig.subplots(1, 2, sharey=True)
    for ax, when, title in zip(axes, ("init", "final"), ("at initialisation", "after training")):
        for shortcut in SHORTCUTS:
            norms = depth_profile(res.grids[shortcut], when)
            style = styles[shortcut]
            ax.plot(range(1, len(norms) + 1), norms, color=style.color, label=shortcut)
        ax.set_yscale("log")
        ax.set_xlabel("layer (stem conv, then each block's two convs)")
        ax.set_title(f"gradient norm per layer {title}")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("gradient norm (probe batch)")
    axes[0].legend(fontsize=8)
    return study.save_png(fig, out_dir, "gradient_by_depth.png")


STUDY = Study(
    name="fishnet-shortcut",
    title="Downsampling shortcuts: 1×1 projection vs pooling, gradient flow in a deep ResNet",
    citation=(
        "Sun, Pang, Shi, Yan & Ouyang, FishNet: A Versatile Backbone for Image, Region, and "
        "Pixel Level Prediction (NeurIPS 2018, arXiv:1901.03495), §3.2"
    ),
    claim=(
        "1×1 convolutions in the downsampling shortcuts of residual networks make gradient "
        "propagation to shallow layers harder; pooling shortcuts (with identity or "
        "concatenation) in their place fix it in very deep networks."
    ),
    budgets={"cpu": CPU, "full": FULL},
    published=tuple(
        Published(VARIANT, f"{shortcut} shortcut", "test_acc", None, WHERE, grid=shortcut)
        for shortcut in SHORTCUTS
    ),
    check=check,
    figure=figure,
    needs_data="cifar10",
    url="https://arxiv.org/abs/1901.03495",
)
