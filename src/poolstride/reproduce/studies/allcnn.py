"""``allcnn``: Springenberg et al. 2015, Table 3 -- is the pooling layer needed in All-CNN-C?

Source: Springenberg, Dosovitskiy, Brox & Riedmiller, "Striving for Simplicity: The All
Convolutional Net" (ICLR 2015 workshop, arXiv:1412.6806), Table 3: CIFAR-10 test error of
the base network C and its three derived models, without data augmentation:

=================  =========  ===================================================
paper              error (%)  here (``-m allcnn-c``, variant string)
=================  =========  ===================================================
Model C            9.74       ``base``: 3×3 max-pool, stride 2
Strided-CNN-C      10.19      ``strided``: pool removed, the conv before it strided
ConvPool-CNN-C     9.31       ``convpool``: extra 3×3 conv, then the max-pool
All-CNN-C          9.08       ``allconv``: 3×3 stride-2 conv in place of the pool
=================  =========  ===================================================

The claim checked is the ordering of the four errors (All-CNN-C < ConvPool-CNN-C < Model C <
Strided-CNN-C): replacing the pool by a *learned* strided convolution is at least as good
as pooling, while merely striding the previous convolution is worse.

The paper's recipe (§3.2): SGD with momentum 0.9, learning rate picked per model from
{0.25, 0.1, 0.05, 0.01}, multiplied by 0.1 after epochs 200, 250 and 300, 350 epochs;
dropout of 20% on the input and 50% after each pooling layer (or the layer replacing it);
weight decay 0.001; ZCA-whitened, globally contrast-normalised images. ``full`` follows it
with these differences: one learning rate (0.01) for all four models instead of the best of
four; the step schedule of the training loop (×0.1 at 50% and 75% of the epochs: 175 and
262) instead of 200/250/300; no dropout (the models have none); per-channel
standardisation instead of whitening; batch size 128 (the paper does not state one).
``cpu`` checks the ordering, not the numbers: All-CNN-C at a sixth of the width (16), a
5,000-image stratified training subset, Adam for 10 epochs, tested on the full 10,000 test
images.
"""

from __future__ import annotations

from poolstride.reproduce import study
from poolstride.reproduce.claims import ordering
from poolstride.reproduce.study import ClaimCheck, Published, Recipe, Study, StudyResults

#: Our variant strings (paper names of models/allcnn.py), in Table 3's row order.
VARIANTS = ("base", "strided", "convpool", "allconv")
#: Table 3: our variant -> (the paper's name, CIFAR-10 test error %, no data augmentation).
TABLE3 = {
    "base": ("Model C", 9.74),
    "strided": ("Strided-CNN-C", 10.19),
    "convpool": ("ConvPool-CNN-C", 9.31),
    "allconv": ("All-CNN-C", 9.08),
}
#: The published ordering, best (lowest error) first.
ORDER = tuple(sorted(TABLE3, key=lambda v: TABLE3[v][1]))  # lowest published error first

MODEL = dict(model="allcnn-c", variants=VARIANTS, baseline="base", augment="none")

CPU = Recipe(
    grids=study.one_grid(
        "cpu",
        MODEL,
        width=16,
        train_size=5000,
        optimizer="adam",
        lr=1e-3,
        schedule="cosine",
        epochs=10,
        batch_size=128,
        eval_points=2,
    ),
    seeds=3,
    minutes_cpu=12,
    minutes_gpu=2,
    notes=(
        "width 16 (paper 96), a 5,000-image stratified training subset, Adam lr 1e-3 with a "
        "cosine schedule for 10 epochs, no dropout or weight decay, 3 seeds; tested on all "
        "10,000 test images"
    ),
)
FULL = Recipe(
    grids=study.one_grid(
        "full",
        MODEL,
        width=96,
        optimizer="sgd",
        momentum=0.9,
        lr=0.01,
        weight_decay=1e-3,
        schedule="step",
        epochs=350,
        batch_size=128,
    ),
    seeds=3,
    minutes_cpu=None,
    minutes_gpu=900,
    notes=(
        "the paper's SGD recipe at full width and 350 epochs; one lr (0.01), the loop's "
        "50%/75% step schedule, no dropout, no whitening"
    ),
)


def check(res: StudyResults) -> ClaimCheck:
    """The published order of test accuracy, All-CNN-C > ConvPool > Model C > Strided, every
    pair tested paired by seed (Holm across the six pairs)."""
    return ordering(res.grid(), ORDER, "test_acc")


STUDY = Study(
    name="allcnn",
    title="All-CNN-C: max-pooling vs strided and learned-stride convolutions (CIFAR-10)",
    citation=(
        "Springenberg, Dosovitskiy, Brox & Riedmiller, Striving for Simplicity: The All "
        "Convolutional Net (ICLR 2015 workshop, arXiv:1412.6806), Table 3"
    ),
    claim=(
        "On CIFAR-10, All-CNN-C (learned stride-2 conv) ≤ ConvPool-CNN-C ≤ Model C (max-pool) "
        "≤ Strided-CNN-C in test error: 9.08, 9.31, 9.74, 10.19 %."
    ),
    budgets={"cpu": CPU, "full": FULL},
    published=tuple(
        Published(v, name, "test_error", error, "Table 3") for v, (name, error) in TABLE3.items()
    ),
    check=check,
    needs_data="cifar10",
    url="https://arxiv.org/abs/1412.6806",
)
