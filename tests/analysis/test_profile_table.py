"""profile(): MACs agree with FlopCounterMode, params/pool ops/memory are exact, the table is usable."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from poolstride import profile
from poolstride.analysis.profile_table import CONVENTION, ProfileTable, resolve_model, spec_table
from poolstride.errors import PoolstrideError
from poolstride.layers import KINDS, make_downsample


def _flop_counter(model: nn.Module, x: torch.Tensor) -> FlopCounterMode:
    # Gradients stay enabled: with them off, nn.MultiheadAttention takes a fused fast path
    # (one native op) that FlopCounterMode does not count.
    counter = FlopCounterMode(display=False)
    with counter:
        model.eval()(x)
    return counter


class Mixed(nn.Module):
    """Grouped, depthwise, dilated and strided 2D convs, a Conv1d branch, a transposed conv, Linear."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 12, 3, stride=2, padding=1)
        self.grouped = nn.Conv2d(12, 24, 3, padding=2, dilation=2, groups=3)
        self.depthwise = nn.Conv2d(24, 24, 5, stride=2, padding=2, groups=24, bias=False)
        self.up = nn.ConvTranspose2d(24, 8, 2, stride=2)
        self.seq = nn.Conv1d(8, 6, 3, groups=2)
        self.fc = nn.Linear(6 * 14, 10)

    def forward(self, x):
        x = self.up(self.depthwise(self.grouped(self.stem(x))))  # (N, 8, 16, 16)
        x = x.mean(dim=2)  # (N, 8, 16) -> a 1D signal
        x = self.seq(x)  # (N, 6, 14)
        return self.fc(torch.flatten(x, 1))


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.attn = nn.MultiheadAttention(16, 4, batch_first=True)
        self.proj = nn.Linear(16, 16)

    def forward(self, x):
        y, _ = self.attn(x, x, x)
        q = self.proj(y).unflatten(-1, (4, 4)).transpose(1, 2)
        return q @ q.transpose(-1, -2)


MODELS = {
    "mixed": (Mixed, (3, 32, 32)),
    "attention": (Attention, (5, 16)),
    "resnet18": (lambda: torchvision.models.resnet18(num_classes=10), (3, 32, 32)),
    "mobilenet_v2": (lambda: torchvision.models.mobilenet_v2(num_classes=10), (3, 32, 32)),
    "conv1d": (
        lambda: nn.Sequential(
            nn.Conv1d(1, 8, 5, padding=2),
            nn.ReLU(),
            nn.MaxPool1d(2),
            nn.Conv1d(8, 16, 3, stride=2),
            nn.AdaptiveAvgPool1d(1),
            nn.Flatten(),
            nn.Linear(16, 4),
        ),
        (1, 40),
    ),
}


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("batch_size", [1, 3])
def test_macs_agree_with_flop_counter(name, batch_size):
    build, shape = MODELS[name]
    model = build()
    table = profile(model, shape, batch_size=batch_size)
    counter = _flop_counter(model, torch.randn(batch_size, *shape))
    assert table.totals.flops == counter.get_total_flops()
    # Per module too: every leaf row with MACs matches FlopCounterMode's entry for that module.
    per_module = {k: sum(v.values()) for k, v in counter.get_flop_counts().items()}
    root = type(model).__name__
    for row in table.rows:
        if row.macs and f"{root}.{row.name}" in per_module and "." not in row.type:
            assert 2 * row.macs == per_module[f"{root}.{row.name}"], row.name


@pytest.mark.parametrize("name", list(MODELS))
def test_cost_counter_totals_equal_the_profile(name):
    """CostCounter (used by surgery and model budgets) counts exactly what profile() counts."""
    from poolstride.analysis.ops import CostCounter

    build, shape = MODELS[name]
    model = build().eval()
    table = profile(model, shape, batch_size=2)
    with torch.no_grad(), CostCounter() as counter:
        model(torch.randn(2, *shape))
    assert (counter.macs, counter.pool_ops) == (table.totals.macs, table.totals.pool_ops)


def test_attention_macs_by_hand():
    # FlopCounterMode does not count CPU scaled_dot_product_attention, so this one is by hand:
    # scores q k^T (L x S x E) plus weights x v (L x S x Ev), per batch and head.
    class SDPA(nn.Module):
        def forward(self, x):
            q = x.unflatten(-1, (2, 3)).transpose(1, 2)  # (N, heads=2, L=5, E=3)
            return torch.nn.functional.scaled_dot_product_attention(q, q, q)

    table = profile(SDPA(), (5, 6), batch_size=2)
    assert table.totals.macs == 2 * 2 * 5 * 5 * (3 + 3)


def test_mixed_model_numbers_by_hand():
    table = profile(Mixed(), (3, 32, 32))
    rows = {r.name: r for r in table.rows}
    assert rows["stem"].macs == 12 * 16 * 16 * 3 * 3 * 3
    assert rows["grouped"].macs == 24 * 16 * 16 * (12 // 3) * 3 * 3
    assert rows["depthwise"].macs == 24 * 8 * 8 * 1 * 5 * 5 and rows["depthwise"].kind == "dwconv"
    assert rows["up"].macs == 24 * 8 * 8 * 8 * 2 * 2  # input positions x out channels x kernel
    assert rows["seq"].macs == 6 * 14 * (8 // 2) * 3
    assert rows["fc"].macs == 10 * 84
    assert rows["fc"].params == 84 * 10 + 10
    assert table.totals.params == sum(p.numel() for p in Mixed().parameters())


def test_pooling_ops_and_memory_by_hand():
    model = nn.Sequential(
        nn.MaxPool2d(2),
        nn.AvgPool2d(3, stride=1, padding=1),
        nn.AdaptiveAvgPool2d((3, 2)),
        nn.AdaptiveMaxPool2d(1),
    )
    table = profile(model, (4, 8, 8), batch_size=2)
    ops = [r.pool_ops for r in table.rows]
    # One op per window element per output; adaptive windows of 4->3 rows are 2, 2, 2 long (sum 6)
    # and of 4->2 columns 2, 2 (sum 4).
    assert ops == [2 * 4 * 4 * 4 * 2 * 2, 2 * 4 * 4 * 4 * 3 * 3, 2 * 4 * 6 * 4, 2 * 4 * 3 * 2]
    assert [r.activation_bytes for r in table.rows] == [
        2 * 4 * 16 * 4,
        2 * 4 * 16 * 4,
        2 * 4 * 6 * 4,
        2 * 4 * 4,
    ]
    assert table.totals.macs == 0 and table.totals.pool_ops == sum(ops)


def test_seed_example_global_pooling():
    table = profile(nn.AdaptiveAvgPool2d(1), (1000, 7, 7))
    assert table.rows[0].output_shape == (1, 1000, 1, 1)
    assert table.rows[0].pool_ops == 1000 * 7 * 7
    assert table.totals.receptive_field.size == (7, 7)


@pytest.mark.parametrize("kind", KINDS)
def test_every_downsampling_kind_profiles_with_its_declared_geometry(kind):
    dim = 1 if kind == "lp" else 2
    module = make_downsample(kind, 4, dim=dim)
    shape = (4, 16) if dim == 1 else (4, 16, 16)
    table = profile(module, shape)
    assert len(table.rows) == 1 and table.rows[0].kind.startswith(kind)
    out = module.eval()(torch.randn(1, *shape))
    assert table.rows[0].output_shape == tuple(out.shape)
    assert table.totals.params == sum(p.numel() for p in module.parameters())
    counter = _flop_counter(module, torch.randn(1, *shape))
    assert table.totals.flops == counter.get_total_flops()


def test_residual_add_takes_the_union_of_branches():
    class WideShortcut(nn.Module):
        # The main path is 1x1 but the shortcut is 7x7: forward-order tools report the last
        # layer's 1x1 chain; the graph union must give 7.
        def __init__(self):
            super().__init__()
            self.shortcut = nn.Conv2d(2, 2, 7, padding=3)
            self.main = nn.Conv2d(2, 2, 1)

        def forward(self, x):
            return self.shortcut(x) + self.main(x)

    table = profile(WideShortcut(), (2, 16, 16))
    assert [r.name for r in table.rows] == ["shortcut", "main", "add"]
    assert table.rows[1].receptive_field.size == (1, 1)
    assert table.rows[2].receptive_field.size == (7, 7)


def test_table_outputs_and_grouping():
    table = profile(torchvision.models.resnet18(), (3, 32, 32))
    assert isinstance(table, ProfileTable)
    data = table.to_dict()
    assert data["totals"]["params"] == 11_689_512 and data["convention"] == CONVENTION
    assert data["rows"][0]["name"] == "conv1" and data["rows"][0]["receptive_field"]["size"] == [
        7,
        7,
    ]
    markdown = table.to_markdown()
    assert "| conv1 | conv | 1×64×16×16 | 9,408 |" in markdown and "Convention:" in markdown
    grouped = table.grouped(1)
    assert [r.name for r in grouped.rows][:5] == ["conv1", "bn1", "relu", "maxpool", "layer1"]
    assert sum(r.macs for r in grouped.rows) == table.totals.macs
    assert (
        grouped.rows[4].receptive_field
        == [r for r in table.rows if r.name.startswith("layer1")][-1].receptive_field
    )


def test_model_mode_and_global_rng_are_left_alone():
    model = torchvision.models.resnet18()
    model.train()
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    profile(model, "3x32x32")
    assert model.training
    assert torch.equal(torch.rand(3), expected)  # seeded experiments stay reproducible
    assert isinstance(resolve_model("torchvision:resnet18"), torchvision.models.ResNet)
    assert profile("conv3-8, max2, gap", "3x8x8").totals.output_shape == (8,)


@pytest.mark.parametrize(
    ("call", "needle"),
    [
        (
            lambda: profile("torchvision:resnet19", (3, 32, 32)),
            "unknown torchvision model 'resnet19'",
        ),
        (lambda: profile(nn.Conv2d(3, 4, 3), (3, 0, 4)), "sizes must be >= 1"),
        (lambda: profile(nn.Conv2d(3, 4, 3), (3, 2, 2)), "does not run on input 1×3×2×2"),
        (lambda: profile(nn.Conv2d(3, 4, 3), (3, 8, 8), batch_size=0), "batch_size=0"),
        (lambda: profile("conv3-8, mux2", (3, 8, 8)), "spec item 2 'mux2' at character 9"),
        (lambda: profile(42, (3, 8, 8)), "pass an nn.Module or a model name"),
    ],
)
def test_bad_input_is_one_line(call, needle):
    with pytest.raises(PoolstrideError) as info:
        call()
    assert needle in str(info.value) and "\n" not in str(info.value)


def test_example_tensor_sets_batch_and_shape():
    table = profile(nn.Conv2d(3, 4, 3), torch.randn(2, 3, 8, 8))
    assert table.batch_size == 2 and table.totals.input_shape == (3, 8, 8)
    assert table.rows[0].output_shape == (2, 4, 6, 6) and table.totals.macs == 2 * 4 * 36 * 27


@pytest.mark.filterwarnings("ignore:`torch.jit.trace:FutureWarning")
def test_torchscript_is_refused_with_a_reason():
    scripted = torch.jit.trace(nn.Conv2d(3, 4, 3), torch.randn(1, 3, 8, 8))
    with pytest.raises(PoolstrideError, match="TorchScript module"):
        profile(scripted, (3, 8, 8))


def test_spec_table_rows_are_items():
    table = spec_table("conv3-16, conv1-16/2, max2, gap, fc-10", "3x17x17")
    assert [r.name for r in table.rows] == [
        "1 conv3-16",
        "2 conv1-16/2",
        "3 max2",
        "4 gap",
        "5 fc-10",
    ]
    assert table.rows[1].warnings == [
        "kernel 1 with stride 2 keeps 1 of every 4 activations: 3/4 are discarded"
    ]
    assert table.rows[2].warnings[0].startswith("floor mode drops the last 1 of 9 inputs along H,W")
    assert [r.receptive_field.size[0] for r in table.rows[:3]] == [3, 3, 5]


def test_a_model_with_a_kind_attribute_is_not_one_operator():
    # Models built for a downsampling kind carry `kind` too; only poolstride operators are rows.
    class Net(nn.Module):
        kind = "max"

        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)
            self.down = make_downsample("max", 4)

        def forward(self, x):
            return self.down(self.conv(x))

    table = profile(Net(), (3, 10, 10))
    assert [(r.name, r.kind) for r in table.rows] == [("conv", "conv"), ("down", "max")]


def test_counting_sees_pooling_that_the_fast_kernels_would_run_and_restores_them():
    """The fast CPU kernels run outside torch's dispatch; while counting they are switched off
    (so every pooling call is seen) and afterwards restored, also after an error."""
    from poolstride import kernels
    from poolstride.analysis.ops import CostCounter

    pool = make_downsample("max", 4, dim=2)
    with kernels.use_kernels(True):
        with torch.no_grad(), CostCounter() as counter:
            assert not kernels.enabled()
            pool(torch.randn(2, 4, 8, 8))
        assert counter.pool_ops == 2 * 4 * 4 * 4 * (2 * 2)
        assert kernels.enabled()
        with pytest.raises(PoolstrideError), CostCounter():
            pool(torch.randn(2, 3, 8, 8))  # wrong channel count
        assert kernels.enabled()


def test_analysis_profile_is_always_the_function():
    """No submodule is called ``profile``: importing the module never rebinds the attribute."""
    import importlib
    import types

    import poolstride
    import poolstride.analysis as analysis

    first = analysis.profile
    module = importlib.import_module("poolstride.analysis.profile_table")
    assert first is analysis.profile is module.profile is poolstride.profile
    assert not isinstance(analysis.profile, types.ModuleType)
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("poolstride.analysis.profile")
