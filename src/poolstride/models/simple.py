"""``simple``: a plain CNN for 1D sequences or 2D images — the default for MNIST-1D.

Architecture (``depth`` blocks at constant ``width`` channels, 1D or 2D from the input)::

    [conv k×k (same padding) → BatchNorm → ReLU → downsample(kind) → ReLU] × depth → head → linear

Defaults: ``width=32``, ``depth=3``, kernel 5 for 1D and 3 for 2D. The channel count stays
constant so that the only thing that changes between kinds is the downsampling operator
(and its own parameters, if any).

Why a ReLU after every downsampling site: after max/avg/blur pooling of non-negative
activations it changes nothing, while a learned downsampling (``conv``, ``dwconv``,
``space-to-depth``, ``blur-conv``) is a linear map that would otherwise be composed directly
with the next convolution — the same choice as All-CNN's "stride-2 conv + ReLU".

With kind ``none`` no block changes resolution (the head then pools the full-size map).
With kind ``subsample`` each block's convolution is built at stride 2 and the site left out
(``conv k×k /2 → BatchNorm → ReLU``): the striding network as it is computed, 1/4 of the
convolution MACs in 2D (see :func:`~poolstride.models.layer_factories.strides_conv`).
"""

from __future__ import annotations

from torch import nn

from poolstride.models.arguments import ModelArgs, check_positive
from poolstride.models.classifier import Classifier
from poolstride.models.layer_factories import batchnorm, conv, downsample, strides_conv

DEFAULT_DEPTH = 3


def build_simple(
    args: ModelArgs,
    *,
    depth: int | None = None,
    kernel_size: int | None = None,
    batch_norm: bool = True,
) -> Classifier:
    """Build the ``simple`` CNN; ``args.shape`` ``(C, L)`` gives 1D layers, ``(C, H, W)`` 2D."""
    kind, dim, width = args.kind, args.dim, args.width
    depth = check_positive(args.name, "depth", depth, DEFAULT_DEPTH)
    k = check_positive(args.name, "kernel_size", kernel_size, 5 if dim == 1 else 3)

    strided = strides_conv(kind)
    stages = []
    cin = args.shape[0]
    for _ in range(depth):
        stride = 2 if strided else 1
        layers = [conv(dim, cin, width, k, stride=stride, padding=k // 2, bias=not batch_norm)]
        if batch_norm:
            layers.append(batchnorm(dim, width))
        layers.append(nn.ReLU(inplace=True))
        if not strided:
            # Not in place: some kinds return a view of their input (none).
            layers += [downsample(kind, width, width, dim), nn.ReLU()]
        stages.append(nn.Sequential(*layers))
        cin = width
    features = nn.Sequential(*stages)
    return args.classifier(features, depth_hint=True)
