"""Parameter counts of known configurations, written as arithmetic, and the paper mappings."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from poolstride.models import ALLCNN_VARIANTS, allcnn_variant, build_model, count_params
from poolstride.models.resnet import BasicBlock


def conv(cin, cout, k, bias=True, dim=2):
    return cin * cout * k**dim + (cout if bias else 0)


def bn(c):
    return 2 * c


def test_simple_2d_default():
    # 3 blocks of conv3 (no bias, BN follows) at width 32, then gap -> linear.
    expected = conv(3, 32, 3, False) + bn(32) + 2 * (conv(32, 32, 3, False) + bn(32)) + 32 * 10 + 10
    assert count_params(build_model("simple", "max", (3, 32, 32), 10)) == expected == 19818


def test_simple_1d_default_and_learned_downsampling():
    base = conv(1, 32, 5, False, 1) + bn(32) + 2 * (conv(32, 32, 5, False, 1) + bn(32)) + 330
    assert count_params(build_model("simple", "max", (1, 40), 10)) == base
    # 'conv' = kernel = stride = 2; 'conv:k3' = 3-tap stride 2; one per block.
    assert count_params(build_model("simple", "conv", (1, 40), 10)) == base + 3 * conv(
        32, 32, 2, dim=1
    )
    assert count_params(build_model("simple", "conv:k3", (1, 40), 10)) == base + 3 * conv(
        32, 32, 3, dim=1
    )
    assert (
        count_params(build_model("simple", "max", (1, 40), 10, head="flatten"))
        == base - 330 + 32 * 5 * 10 + 10
    )


def allcnn_base(letter, classes=10, cin=3):
    """Table 1 of Springenberg et al. (2015) at width 96/192, as arithmetic."""
    first = {
        "a": [(5, cin, 96)],
        "b": [(5, cin, 96), (1, 96, 96)],
        "c": [(3, cin, 96), (3, 96, 96)],
    }[letter]
    second = {
        "a": [(5, 96, 192)],
        "b": [(5, 96, 192), (1, 192, 192)],
        "c": [(3, 96, 192), (3, 192, 192)],
    }[letter]
    top = [(3, 192, 192), (1, 192, 192), (1, 192, classes)]
    return sum(conv(ci, co, k) for k, ci, co in first + second + top)


@pytest.mark.parametrize("letter", "abc")
def test_allcnn_variants_parameter_counts(letter):
    name = f"allcnn-{letter}"
    base = allcnn_base(letter)
    extra = conv(96, 96, 3) + conv(192, 192, 3)  # one 3x3 conv per pooling site
    counts = {}
    for variant in ALLCNN_VARIANTS:
        kind, extra_conv = allcnn_variant(variant)
        counts[variant] = count_params(
            build_model(name, kind, (3, 32, 32), 10, extra_conv=extra_conv)
        )
    assert counts == {
        "base": base,
        "strided": base,
        "convpool": base + extra,
        "allconv": base + extra,
    }


def test_allcnn_counts_match_the_papers_table():
    """Table 3 of the paper gives rounded counts: ALL-CNN-A ~1.28M, -B ~1.35M, -C ~1.4M (our
    exact counts: 1.254M, 1.301M, 1.370M), Model A ~0.9M, B ~1M (0.839M, 0.886M)."""
    millions = {
        letter: count_params(build_model(f"allcnn-{letter}", "conv:k3", (3, 32, 32), 10)) / 1e6
        for letter in "abc"
    }
    assert millions["a"] == pytest.approx(1.28, rel=0.03)
    assert millions["b"] == pytest.approx(1.35, rel=0.04)
    assert millions["c"] == pytest.approx(1.4, rel=0.03)
    assert millions["a"] < millions["b"] < millions["c"]


def test_strided_variant_is_the_papers_strided_cnn():
    """kind='subsample' computes exactly the Strided-CNN-C: each pre-pool conv with stride 2."""
    torch.manual_seed(0)
    model = build_model("allcnn-c", "subsample", (3, 16, 16), 10, width=4).eval()
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    strides = [1, 2, 1, 2, 1, 1, 1]  # conv after which the paper drops the pool gets stride 2
    pads = [1, 1, 1, 1, 0, 0, 0]
    x = torch.randn(2, 3, 16, 16)
    h = x
    for i, (c, s, p) in enumerate(zip(convs, strides, pads)):
        h = F.conv2d(h, c.weight, c.bias, stride=s, padding=p)
        if i < len(convs) - 1:
            h = F.relu(h)
    expected = h.mean(dim=(2, 3))
    assert torch.allclose(model(x), expected, atol=1e-5)


def resnet20_subsample(classes=10, w=16):
    stem = conv(3, w, 3, False) + bn(w)
    block = lambda c: 2 * (conv(c, c, 3, False) + bn(c))  # noqa: E731
    down = lambda ci, co: (  # noqa: E731
        conv(ci, co, 3, False)
        + bn(co)
        + conv(co, co, 3, False)
        + bn(co)
        + conv(ci, co, 1)
        + bn(co)  # shortcut: subsample + 1x1 conv (with bias) + BN
    )
    return (
        stem
        + 3 * block(w)
        + down(w, 2 * w)
        + 2 * block(2 * w)
        + down(2 * w, 4 * w)
        + 2 * block(4 * w)
        + 4 * w * classes
        + classes
    )


def test_resnet20_has_the_papers_027M_parameters():
    model = build_model("resnet20", "subsample", (3, 32, 32), 10)
    assert count_params(model) == resnet20_subsample() == 272_570
    assert count_params(model) == pytest.approx(0.27e6, rel=0.02)
    # Parameter-free kinds keep the count; a learned kind adds its own weights.
    assert count_params(build_model("resnet20", "max", (3, 32, 32), 10)) == 272_570
    main = conv(32, 32, 3) + conv(64, 64, 3)  # a 3x3 stride-2 conv at each main-path site
    shortcut = (conv(16, 32, 3) - conv(16, 32, 1)) + (conv(32, 64, 3) - conv(32, 64, 1))
    assert count_params(build_model("resnet20", "conv:k3", (3, 32, 32), 10)) == (
        272_570 + main + shortcut
    )


def test_resnet_downsampling_block_with_subsample_is_a_stride2_block():
    """He et al.'s block: conv3/2 → BN → ReLU → conv3 → BN, plus 1x1/2 projection → BN."""
    torch.manual_seed(0)
    block = BasicBlock("subsample", 4, 8, dim=2, down=True).eval()
    for bn_ in (block.bn1, block.bn2, block.shortcut[1]):  # non-trivial BN statistics
        bn_.running_mean.uniform_(-1, 1)
        bn_.running_var.uniform_(0.5, 2)
    x = torch.randn(2, 4, 9, 9)
    main = F.relu(block.bn1(F.conv2d(x, block.conv1.weight, stride=2, padding=1)))
    main = block.bn2(block.conv2(main))
    proj = block.shortcut[0].proj
    short = block.shortcut[1](F.conv2d(x, proj.weight, proj.bias, stride=2))
    assert torch.allclose(block(x), F.relu(main + short), atol=1e-5)


def test_lenet5_parameter_count():
    expected = conv(1, 6, 5) + conv(6, 16, 5) + conv(16, 120, 5) + (120 * 84 + 84) + (84 * 10 + 10)
    model = build_model("lenet5", "avg", (1, 28, 28), 10)
    assert count_params(model) == expected == 61_706
    assert model.features(torch.zeros(1, 1, 28, 28)).shape == (1, 120, 1, 1)  # the paper's C5
