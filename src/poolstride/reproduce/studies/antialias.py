"""``antialias``: Zhang 2019 -- does blurring before downsampling buy shift consistency?

Source: Richard Zhang, "Making Convolutional Networks Shift-Invariant Again" (ICML 2019,
arXiv:1904.11486) and its repository (github.com/adobe/antialiased-cnns, README_IMAGENET.md,
models trained from scratch). Anti-aliasing = a binomial low-pass filter before each
subsampling: max-pool → max (stride 1) + blur-pool (``blur-max``), strided conv → conv
(stride 1) + ReLU + blur-pool. Consistency: how often two shifted crops of one image get the
same class.

Published (ImageNet, ResNet-50, 224×224 crops; accuracy / consistency in %): baseline 76.16 /
89.20, 5-tap binomial filter ("Bin-5") 77.04 / 91.31 -- both the stem's max-pool and every
strided convolution anti-aliased at once. The claim checked: anti-aliasing raises shift
consistency at equal or better accuracy.

Our scale: CIFAR-10 (32×32) and a CIFAR ResNet-20, whose downsampling is two strided 3×3
convolutions (and their 1×1 projection shortcuts) -- no max-pool. So both of Zhang's
replacements are tested as separate pairs at those two sites, each with a 5-tap filter:

- strided conv: ``subsample`` (the stride-2 conv: ResNet-20 as published) against
  ``blur-avg:filt5`` (conv at stride 1 → BN → ReLU → blur-pool, and blur-pool → 1×1 conv in
  the shortcut: Zhang's anti-aliased ResNet);
- max-pool: ``max`` (conv at stride 1 → BN → ReLU → 2×2 max-pool) against ``blur-max:filt5``.

Consistency is our crop-shift consistency (``shift_consistency_crop``: two crops of the same
zero-padded image, shifted by up to ``max_shift`` = 4 pixels, classified the same), the
closest to Zhang's random-crop measure; the circular version is stored too. Published numbers
are ImageNet's: the table shows them as the effect to compare against, not as a target.
"""

from __future__ import annotations

from poolstride.reproduce import study
from poolstride.reproduce.claims import ALPHA, pair, pair_sentence, verdict, with_holm
from poolstride.reproduce.study import ClaimCheck, Published, Recipe, Study, StudyResults

#: (anti-aliased, baseline) pairs, each checked on consistency and accuracy.
PAIRS = (("blur-avg:filt5", "subsample"), ("blur-max:filt5", "max"))
VARIANTS = ("subsample", "blur-avg:filt5", "max", "blur-max:filt5")
CONSISTENCY = "shift_consistency_crop"
WHERE = "ImageNet ResNet-50, README_IMAGENET.md"

MODEL = dict(model="resnet20", variants=VARIANTS, baseline="subsample", augment="none")

CPU = Recipe(
    grids=study.one_grid(
        "cpu",
        MODEL,
        width=8,
        train_size=2000,
        **study.adam_cosine(100),
        eval_points=1,
    ),
    seeds=3,
    minutes_cpu=26,  # measured: 25.9 min at load average 6-13 on 2 cores
    minutes_gpu=2,
    notes=(
        "ResNet-20 at half width (8), 2,000 training images, Adam lr 3e-3 cosine, 100 steps of "
        "64, no augmentation, 3 seeds; tested once, on all 10,000 test images"
    ),
)
FULL = Recipe(
    grids=study.one_grid(
        "full",
        MODEL,
        width=16,
        **study.he_cifar(160),
    ),
    seeds=5,
    minutes_cpu=None,
    minutes_gpu=240,
    notes=(
        "ResNet-20 close to He et al.'s CIFAR-10 recipe (SGD 0.1, momentum 0.9, weight decay 1e-4, "
        "160 epochs, ×0.1 steps at 50%/75%, shift+flip augmentation), 5 seeds"
    ),
)


def check(res: StudyResults) -> ClaimCheck:
    """Held: each anti-aliased variant is more shift-consistent than its baseline (Holm over
    the two pairs) and neither is less accurate; did not hold: a significant consistency
    loss or accuracy loss; else inconclusive."""
    results = res.grid()
    consistency = with_holm([pair(results, a, b, CONSISTENCY) for a, b in PAIRS])
    accuracy = with_holm([pair(results, a, b, "test_acc") for a, b in PAIRS])
    reasons = [pair_sentence(a, b, t, CONSISTENCY) for (a, b), t in zip(PAIRS, consistency)]
    reasons += [pair_sentence(a, b, t, "test_acc") for (a, b), t in zip(PAIRS, accuracy)]
    gains = [t.p_adj < ALPHA and t.diff > 0 for t in consistency]
    losses = [t.p_adj < ALPHA and t.diff < 0 for t in (*consistency, *accuracy)]
    return verdict(reasons, held=bool(consistency) and all(gains), not_held=any(losses))


STUDY = Study(
    name="antialias",
    title="Anti-aliased downsampling: shift consistency and accuracy (CIFAR-10, ResNet-20)",
    citation=(
        "Zhang, Making Convolutional Networks Shift-Invariant Again (ICML 2019, "
        "arXiv:1904.11486); numbers from github.com/adobe/antialiased-cnns"
    ),
    claim=(
        "Blurring before subsampling (blur-pool after a stride-1 conv, blur-max for max-pool) "
        "raises shift consistency at equal or better accuracy (ImageNet ResNet-50, 5-tap "
        "filter: consistency 89.20 → 91.31 %, accuracy 76.16 → 77.04 %)."
    ),
    budgets={"cpu": CPU, "full": FULL},
    published=(
        Published("subsample", "ResNet-50 baseline", "test_acc", 76.16, WHERE),
        Published("subsample", "ResNet-50 baseline", CONSISTENCY, 89.20, WHERE),
        Published("blur-avg:filt5", "ResNet-50 Bin-5", "test_acc", 77.04, WHERE),
        Published("blur-avg:filt5", "ResNet-50 Bin-5", CONSISTENCY, 91.31, WHERE),
    ),
    check=check,
    needs_data="cifar10",
    url="https://arxiv.org/abs/1904.11486",
)
