"""``lenet5``: LeNet-5 (LeCun et al., 1998) with ``kind`` at its two subsampling layers.

::

    C1 conv5 6 (padding 2) → ReLU → S2 downsample(kind) → C3 conv5 16 → ReLU →
    S4 downsample(kind) → C5 conv5 120 → ReLU → head → F6 linear 84 → ReLU → linear classes

Modernised in the usual ways, stated so the parameter count can be checked: ReLU instead of
scaled tanh; C3 connects to all six S2 maps (the paper's sparse connection table is dropped:
16·(6·25+1) = 2,416 weights instead of 1,516); softmax output instead of RBF units; and C1
pads by 2, so a 28×28 MNIST digit meets the paper's 32×32 geometry (28 → 14 → 10 → 5 → 1×1 at
C5). C5 is a convolution, so larger inputs work: its map goes through ``head`` (``gap`` on a
1×1 map is exactly the paper's flattening). The paper's S2/S4 are trainable average
subsampling; ``kind="avg"`` is the parameter-free modern reading of it.
``width`` sets C1's channels (6); C3, C5 and F6 scale with it.
"""

from __future__ import annotations

from torch import nn

from poolstride.models.arguments import ModelArgs
from poolstride.models.classifier import Classifier
from poolstride.models.layer_factories import conv, downsample, scaled

DEFAULT_WIDTH = 6


def build_lenet5(args: ModelArgs) -> Classifier:
    """Build LeNet-5 (1D or 2D from ``args.shape``) with ``args.kind`` at S2 and S4."""
    kind, dim = args.kind, args.dim
    c1, c3, c5, f6 = (scaled(c, args.width, DEFAULT_WIDTH) for c in (6, 16, 120, 84))

    features = nn.Sequential(
        nn.Sequential(  # C1, S2
            conv(dim, args.shape[0], c1, 5, padding=2),
            nn.ReLU(inplace=True),
            downsample(kind, c1, c1, dim),
            nn.ReLU(),
        ),
        nn.Sequential(  # C3, S4
            conv(dim, c1, c3, 5),
            nn.ReLU(inplace=True),
            downsample(kind, c3, c3, dim),
            nn.ReLU(),
        ),
        nn.Sequential(conv(dim, c3, c5, 5), nn.ReLU(inplace=True)),  # C5
    )
    return args.classifier(features, hidden=f6)
