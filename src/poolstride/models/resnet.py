"""CIFAR ResNets of He et al. (2016, section 4.2) — ``resnet20``, ``resnet56``, ``resnet110`` —
downsampling by ``kind``, with a choice of ``shortcut`` and ``stem``.

Layout (``w`` = ``width``, 16 by default; depth = 6n + 2): stem, then three stages of n basic
blocks with w, 2w, 4w channels; the first block of stages 2 and 3 halves the resolution;
global pooling head → linear.

A downsampling block, with ``D(kind, cin, cout)`` = ``make_downsample(kind, cin, cout)``::

    main:      conv3 cin→cout → BN → ReLU → D(kind, cout, cout) → ReLU → conv3 → BN
    shortcut:  see ``shortcut`` below
    out = ReLU(main + shortcut)

``kind="subsample"`` (the default) is the paper's network: the block's first convolution is
built at stride 2 and the site left out (:func:`~poolstride.models.layer_factories.
strides_conv`: the same function as keeping every 2nd output of the stride-1 conv, computed
at 1/4 of its MACs), and the projection shortcut is subsample + 1×1 conv = the stride-2 1×1
projection (option B). 0.27M parameters at depth 20. Parameter-free kinds (``max``, ``avg``,
``blur-max``, ...) keep exactly that parameter count; learned kinds (``conv``, ``dwconv``,
``blur-conv``) add their own weights.

``shortcut`` — the downsampling shortcut (FishNet §3.2 argues the 1×1 convolution there
hinders gradient flow in very deep networks; :data:`SHORTCUTS`):

- ``projection``: ``D(kind, cin, cout) → BN`` (a parameter-free kind is followed by a 1×1
  convolution): the standard 1×1 stride-2 projection with ``subsample``;
- ``avgpool-pad``: 2×2 average pooling, then the ``cout - cin`` new channels zero
  (He et al.'s option A with average pooling in place of subsampling); no parameters;
- ``avgpool-concat``: 2×2 average pooling and 2×2 max pooling of ``x`` concatenated along
  channels (``cout = 2·cin``, as ``catavgmax`` heads do): every channel carries the input;
- ``resnet-d``: 2×2 average pooling → 1×1 conv → BN (He et al. 2019, "Bag of Tricks", ResNet-D).

Average pooling in the shortcuts uses ``ceil_mode`` without counting padding, so odd sizes
round like the stride-2 main path.

``stem`` — the layers before the first stage (:data:`STEMS`; ``conv3`` is CIFAR's, the others
are ImageNet-style stems for 64–96 px inputs that downsample 4×):

- ``conv3``: 3×3 conv → BN → ReLU (no downsampling);
- ``conv7s2-max``: 7×7 stride-2 conv → BN → ReLU → 3×3 stride-2 max pool (torchvision's);
- ``conv7-pool``: 7×7 stride-1 conv → BN → ReLU → 3×3 stride-2 max pool, twice;
- ``deep3x3``: 3×3 stride-2 conv w→w/2, 3×3 conv w/2→w/2, 3×3 conv w/2→w (each → BN → ReLU)
  → 3×3 stride-2 max pool (ResNet-C of "Bag of Tricks").
"""

from __future__ import annotations

import torch
from torch import nn

from poolstride.errors import PoolstrideError, unknown
from poolstride.layers import make_downsample
from poolstride.models.arguments import ModelArgs
from poolstride.models.classifier import Classifier
from poolstride.models.layer_factories import batchnorm, conv, downsample, strides_conv

#: The downsampling shortcuts (see the module docstring).
SHORTCUTS = ("projection", "avgpool-pad", "avgpool-concat", "resnet-d")
#: The stems (see the module docstring).
STEMS = ("conv3", "conv7s2-max", "conv7-pool", "deep3x3")


def check_depth(name: str, depth: int) -> int:
    """Blocks per stage ``n`` of a depth ``6n + 2`` (20 -> 3, 56 -> 9, 110 -> 18)."""
    if depth < 8 or (depth - 2) % 6:
        raise PoolstrideError(f"{name}: depth must be 6n + 2 (20, 32, 44, 56, 110...), got {depth}")
    return (depth - 2) // 6


class ZeroPadChannels(nn.Module):
    """``(N, C, *L) -> (N, C + extra, *L)``: the input with ``extra`` zero channels appended."""

    def __init__(self, extra: int) -> None:
        super().__init__()
        self.extra = int(extra)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        zeros = x.new_zeros((x.shape[0], self.extra, *x.shape[2:]))
        return torch.cat([x, zeros], dim=1)


class ConcatPool(nn.Module):
    """``(N, C, *L) -> (N, 2C, *L/2)``: average and max pooling concatenated along channels."""

    def __init__(self, channels: int, dim: int) -> None:
        super().__init__()
        self.avg = shortcut_avgpool(channels, dim)
        self.max = make_downsample("max", channels, channels, factor=2, dim=dim, ceil_mode=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.avg(x), self.max(x)], dim=1)


def shortcut_avgpool(channels: int, dim: int) -> nn.Module:
    """2×2 average pooling, stride 2, rounding up (``ceil_mode``, padding not counted)."""
    return make_downsample(
        "avg", channels, channels, factor=2, dim=dim, ceil_mode=True, count_include_pad=False
    )


def make_shortcut(shortcut: str, kind, cin: int, cout: int, dim: int) -> nn.Module:
    """The downsampling shortcut ``(N, cin, *L) -> (N, cout, *L/2)`` named ``shortcut``."""
    if shortcut == "projection":
        return nn.Sequential(downsample(kind, cin, cout, dim), batchnorm(dim, cout))
    if shortcut == "avgpool-pad":
        return nn.Sequential(shortcut_avgpool(cin, dim), ZeroPadChannels(cout - cin))
    if shortcut == "avgpool-concat":
        if cout != 2 * cin:
            raise PoolstrideError(
                f"avgpool-concat doubles the channels; cannot map {cin} -> {cout}"
            )
        return ConcatPool(cin, dim)
    return nn.Sequential(  # resnet-d
        shortcut_avgpool(cin, dim), conv(dim, cin, cout, 1, bias=False), batchnorm(dim, cout)
    )


class BasicBlock(nn.Module):
    """Two 3×3 conv-BN layers with an identity (or downsampling) shortcut."""

    def __init__(
        self, kind, cin: int, cout: int, dim: int, down: bool, shortcut: str = "projection"
    ) -> None:
        super().__init__()
        strided = down and strides_conv(kind)
        self.conv1 = conv(dim, cin, cout, 3, stride=2 if strided else 1, padding=1, bias=False)
        self.bn1 = batchnorm(dim, cout)
        self.relu = nn.ReLU(inplace=True)
        # The site: downsampling then a ReLU (not in place: some kinds return views).
        self.down = (
            nn.Sequential(downsample(kind, cout, cout, dim), nn.ReLU())
            if down and not strided
            else nn.Identity()
        )
        self.conv2 = conv(dim, cout, cout, 3, padding=1, bias=False)
        self.bn2 = batchnorm(dim, cout)
        if down:
            self.shortcut = make_shortcut(shortcut, kind, cin, cout, dim)
        elif cin != cout:
            self.shortcut = nn.Sequential(downsample("none", cin, cout, dim), batchnorm(dim, cout))
        else:
            self.shortcut = nn.Identity()

    def forward(self, x):
        out = self.down(self.relu(self.bn1(self.conv1(x))))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


def _conv_bn_relu(dim: int, cin: int, cout: int, k: int, stride: int = 1) -> list[nn.Module]:
    conv_layer = conv(dim, cin, cout, k, stride=stride, padding=k // 2, bias=False)
    return [conv_layer, batchnorm(dim, cout), nn.ReLU(inplace=True)]


def make_stem(stem: str, cin: int, width: int, dim: int) -> nn.Sequential:
    """The stem named ``stem``: ``(N, cin, *L) -> (N, width, *L/s)``, ``s`` 1 (``conv3``) or 4."""

    def pool() -> nn.Module:  # 3x3 stride-2 max pool, padding 1 (torchvision's)
        return make_downsample("max:k3", width, width, factor=2, dim=dim)

    if stem == "conv3":
        return nn.Sequential(*_conv_bn_relu(dim, cin, width, 3))
    if stem == "conv7s2-max":
        return nn.Sequential(*_conv_bn_relu(dim, cin, width, 7, stride=2), pool())
    if stem == "conv7-pool":
        return nn.Sequential(*_conv_bn_relu(dim, cin, width, 7), pool(), pool())
    half = max(1, width // 2)  # deep3x3
    return nn.Sequential(
        *_conv_bn_relu(dim, cin, half, 3, stride=2),
        *_conv_bn_relu(dim, half, half, 3),
        *_conv_bn_relu(dim, half, width, 3),
        pool(),
    )


def build_resnet(
    depth: int, args: ModelArgs, *, shortcut: str = "projection", stem: str = "conv3"
) -> Classifier:
    """Build a CIFAR ResNet of ``depth`` (1D or 2D from ``args.shape``) with ``args.kind`` in
    its stride-2 blocks, the downsampling ``shortcut`` and the ``stem`` named."""
    kind, dim, width = args.kind, args.dim, args.width
    blocks_per_stage = check_depth(args.name, depth)
    if shortcut not in SHORTCUTS:
        raise unknown(f"{args.name} shortcut", str(shortcut), SHORTCUTS)
    if stem not in STEMS:
        raise unknown(f"{args.name} stem", str(stem), STEMS)

    stages = [make_stem(stem, args.shape[0], width, dim)]
    cin = width
    for i, cout in enumerate((width, 2 * width, 4 * width)):
        blocks = [
            BasicBlock(
                kind, cin if b == 0 else cout, cout, dim, down=(i > 0 and b == 0), shortcut=shortcut
            )
            for b in range(blocks_per_stage)
        ]
        stages.append(nn.Sequential(*blocks))
        cin = cout
    features = nn.Sequential(*stages)
    for m in features.modules():  # He initialisation, as in the paper
        if isinstance(m, (nn.Conv1d, nn.Conv2d)):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
    return args.classifier(features)


def build_resnet20(args: ModelArgs, *, shortcut: str = "projection", stem: str = "conv3"):
    """ResNet-20 (3 blocks per stage, 0.27M parameters)."""
    return build_resnet(20, args, shortcut=shortcut, stem=stem)


def build_resnet56(args: ModelArgs, *, shortcut: str = "projection", stem: str = "conv3"):
    """ResNet-56 (9 blocks per stage, 0.85M parameters)."""
    return build_resnet(56, args, shortcut=shortcut, stem=stem)


def build_resnet110(args: ModelArgs, *, shortcut: str = "projection", stem: str = "conv3"):
    """ResNet-110 (18 blocks per stage, 1.7M parameters)."""
    return build_resnet(110, args, shortcut=shortcut, stem=stem)
