"""All-CNN models A, B and C (Springenberg et al., 2015, "Striving for Simplicity"), with
the downsampling at both pooling sites chosen by ``kind``.

Base networks (Table 1 of the paper; ``w`` = ``width``, 96 by default; ``site`` = a
downsampling site)::

    A: conv5 w              | site | conv5 2w              | site | conv3 2w (valid), conv1 2w, conv1 classes
    B: conv5 w, conv1 w     | site | conv5 2w, conv1 2w    | site | conv3 2w (valid), conv1 2w, conv1 classes
    C: conv3 w, conv3 w     | site | conv3 2w, conv3 2w    | site | conv3 2w (valid), conv1 2w, conv1 classes

Every convolution is followed by a ReLU except the last (class maps; the paper's ReLU on
the class scores is dropped because it clips negative logits); the class maps go through
``head`` (``gap`` = the paper's global average), and a linear layer is added only when the
head's feature count differs from the number of classes (``flatten``, ``catavgmax``).
A 32×32 input gives 16 → 8 → 6×6 class maps, as in the paper.

The paper's four variants of each network map onto ``kind`` (and one flag):

=============  ========================================  =====================================
paper          what it does at each pooling site          here
=============  ========================================  =====================================
Model X        3×3 max-pool, stride 2                      ``kind="max:k3"``
Strided-CNN-X  pool removed; the conv before it strided    ``kind="subsample"``: built as that
                                                           stride-2 conv (keeping every 2nd
                                                           output of the stride-1 conv is the
                                                           same function, same parameters)
ConvPool-CNN-X extra 3×3 conv, then the 3×3 max-pool       ``kind="max:k3", extra_conv=True``
All-CNN-X      3×3 conv with stride 2 replaces the pool    ``kind="conv:k3"``
=============  ========================================  =====================================

(:data:`ALLCNN_VARIANTS` holds this table.) The paper names are also variant strings of
these models -- ``base``, ``strided``, ``convpool``, ``allconv`` -- so one comparison grid
(``poolstride compare -m allcnn-c -v base,strided,convpool,allconv``) runs all four,
ConvPool's extra convolution included. Every site is followed by a ReLU: a no-op after
pooling non-negative maps, and the paper's ReLU after its stride-2 convolution. Any other
kind (``avg``, ``blur-max``, ...) can be put at the sites the same way. ConvPool-CNN-X and
All-CNN-X have identical parameter counts by construction — the control the paper used.
Dropout and the paper's training schedule are left to the training loop.
"""

from __future__ import annotations

from dataclasses import replace

from torch import nn

from poolstride.errors import unknown
from poolstride.models.arguments import ModelArgs
from poolstride.models.classifier import Classifier
from poolstride.models.layer_factories import conv, downsample, strides_conv

#: paper variant -> (kind, extra_conv)
ALLCNN_VARIANTS: dict[str, tuple[str, bool]] = {
    "base": ("max:k3", False),
    "strided": ("subsample", False),
    "convpool": ("max:k3", True),
    "allconv": ("conv:k3", False),
}

# Per letter: the kernel sizes of the convolutions in front of each pooling site.
_STAGES = {"a": (5,), "b": (5, 1), "c": (3, 3)}


def _conv_relu(dim, cin, cout, k, padding):
    return [conv(dim, cin, cout, k, padding=padding), nn.ReLU(inplace=True)]


def allcnn_variant(variant: str) -> tuple[str, bool]:
    """``(kind, extra_conv)`` for a paper variant name (``base strided convpool allconv``)."""
    if variant not in ALLCNN_VARIANTS:
        raise unknown("All-CNN variant", variant, ALLCNN_VARIANTS)
    return ALLCNN_VARIANTS[variant]


def build_allcnn(letter: str, args: ModelArgs, *, extra_conv: bool = False) -> Classifier:
    """Build All-CNN ``letter`` (``a``, ``b`` or ``c``) with ``args.kind`` at both pooling sites.

    ``args.kind`` may be a paper variant name (``base strided convpool allconv``): its kind
    and ``extra_conv`` then come from :data:`ALLCNN_VARIANTS`.
    """
    if isinstance(args.kind, str) and args.kind in ALLCNN_VARIANTS:
        kind, extra_conv = ALLCNN_VARIANTS[args.kind]
        args = replace(args, kind=kind)
    kind, dim, width = args.kind, args.dim, args.width
    widths = (width, 2 * width)

    stages = []
    cin = args.shape[0]
    for cout in widths:
        layers = []
        for k in _STAGES[letter]:
            layers += _conv_relu(dim, cin, cout, k, k // 2)
            cin = cout
        if extra_conv:  # ConvPool-CNN: a 3x3 conv in front of the pool, the All-CNN control
            layers += _conv_relu(dim, cout, cout, 3, 1)
        if strides_conv(kind):  # the conv in front of the site strides (same function, 1/4 MACs)
            layers[-2].stride = (2,) * dim
        else:  # not in place after the site: some kinds return a view of their input
            layers += [downsample(kind, cout, cout, dim), nn.ReLU()]
        stages.append(nn.Sequential(*layers))
    top = 2 * width
    stages.append(
        nn.Sequential(
            *_conv_relu(dim, top, top, 3, 0),  # valid 3x3: 8x8 -> 6x6 for 32x32 inputs
            *_conv_relu(dim, top, top, 1, 0),
            conv(dim, top, args.num_classes, 1),
        )
    )
    features = nn.Sequential(*stages)
    model = args.classifier(features, skip_linear_if_equal=True)
    model.extra_conv = extra_conv
    return model
