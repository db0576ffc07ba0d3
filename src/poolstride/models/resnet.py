"""``resnet20``: the CIFAR ResNet of He et al. (2016, section 4.2), downsampling by ``kind``.

Layout (``w`` = ``width``, 16 by default): conv3 w → BN → ReLU, then three stages of three
basic blocks with w, 2w, 4w channels; the first block of stages 2 and 3 halves the
resolution; global pooling head → linear. 6·3 + 2 = 20 weighted layers.

A downsampling block, with ``D(kind, cin, cout)`` = ``make_downsample(kind, cin, cout)``::

    main:      conv3 cin→cout → BN → ReLU → D(kind, cout, cout) → ReLU → conv3 → BN
    shortcut:  D(kind, cin, cout) → BN                (a parameter-free kind is followed by
                                                       a 1×1 convolution to change channels)
    out = ReLU(main + shortcut)

So ``kind="subsample"`` *is* the paper's network with projection shortcuts (option B): a
stride-1 conv followed by keeping every 2nd output equals the stride-2 conv, and subsample +
1×1 conv equals the stride-2 1×1 projection. That is the default kind: 0.27M parameters.
Parameter-free kinds (``max``, ``avg``, ``blur-max``, ...) keep exactly that parameter count;
learned kinds (``conv``, ``dwconv``, ``blur-conv``) add their own weights (an extra strided
layer, as All-CNN's stride-2 convolution replacing a pool).
"""

from __future__ import annotations

from torch import nn

from poolstride.models.arguments import ModelArgs
from poolstride.models.classifier import Classifier
from poolstride.models.layer_factories import batchnorm, conv, downsample

BLOCKS_PER_STAGE = 3


class BasicBlock(nn.Module):
    """Two 3×3 conv-BN layers with an identity (or downsampling) shortcut."""

    def __init__(self, kind, cin: int, cout: int, dim: int, down: bool) -> None:
        super().__init__()
        self.conv1 = conv(dim, cin, cout, 3, padding=1, bias=False)
        self.bn1 = batchnorm(dim, cout)
        self.relu = nn.ReLU(inplace=True)
        # The site: downsampling then a ReLU (not in place: some kinds return views).
        self.down = (
            nn.Sequential(downsample(kind, cout, cout, dim), nn.ReLU()) if down else nn.Identity()
        )
        self.conv2 = conv(dim, cout, cout, 3, padding=1, bias=False)
        self.bn2 = batchnorm(dim, cout)
        if down or cin != cout:
            self.shortcut: nn.Module = nn.Sequential(
                downsample(kind if down else "none", cin, cout, dim), batchnorm(dim, cout)
            )
        else:
            self.shortcut = nn.Identity()

    def forward(self, x):
        out = self.down(self.relu(self.bn1(self.conv1(x))))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


def build_resnet20(args: ModelArgs) -> Classifier:
    """Build ResNet-20 (1D or 2D from ``args.shape``) with ``args.kind`` in its stride-2 blocks."""
    kind, dim, width = args.kind, args.dim, args.width

    stem = nn.Sequential(
        conv(dim, args.shape[0], width, 3, padding=1, bias=False),
        batchnorm(dim, width),
        nn.ReLU(inplace=True),
    )
    stages = [stem]
    cin = width
    for i, cout in enumerate((width, 2 * width, 4 * width)):
        blocks = [
            BasicBlock(kind, cin if b == 0 else cout, cout, dim, down=(i > 0 and b == 0))
            for b in range(BLOCKS_PER_STAGE)
        ]
        stages.append(nn.Sequential(*blocks))
        cin = cout
    features = nn.Sequential(*stages)
    for m in features.modules():  # He initialisation, as in the paper
        if isinstance(m, (nn.Conv1d, nn.Conv2d)):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
    return args.classifier(features)
