"""fastest_step: every configuration timed on a copy, the fastest reported with its kernels."""

from __future__ import annotations

import pytest
import torch

from poolstride import kernels
from poolstride.experiment import latency
from poolstride.experiment.latency import fastest_step
from poolstride.models import build_model

POOLING = ["poolstride", "pytorch"] if kernels.available() else ["pytorch"]
needs_kernels = pytest.mark.skipif(not kernels.available(), reason="numba not installed")


def _model_2d(kind: str = "max"):
    torch.manual_seed(0)
    model = build_model("simple", kind, (3, 16, 16), 10, width=8)
    return model, torch.randn(8, 3, 16, 16), torch.randint(0, 10, (8,))


def _model_1d(kind: str = "max"):
    torch.manual_seed(0)
    model = build_model("simple", kind, (1, 32), 10, width=8)
    return model, torch.randn(8, 1, 32), torch.randint(0, 10, (8,))


def test_2d_times_both_memory_formats_and_1d_only_contiguous():
    out_2d = fastest_step(*_model_2d(), rounds=2)
    assert set(out_2d["step_ms_by_config"]) == {
        f"{fmt}, {p} pooling" for fmt in ("contiguous", "channels_last") for p in POOLING
    }
    out_1d = fastest_step(*_model_1d(), rounds=2)
    assert set(out_1d["step_ms_by_config"]) == {f"contiguous, {p} pooling" for p in POOLING}
    for out in (out_2d, out_1d):
        assert out["step_ms"] == min(out["step_ms_by_config"].values()) > 0
        assert out["step_ms_by_config"][out["step_config"]] == out["step_ms"]
        # the kernels listed are those of the reported configuration
        fmt, pooling = out["step_config"].removesuffix(" pooling").split(", ")
        assert out["downsampling_kernels"]
        for entry in out["downsampling_kernels"]:
            assert entry.startswith(f"max ({fmt}): ")
            assert ("poolstride" in entry) == (pooling == "poolstride"), entry


@pytest.mark.parametrize(
    "fastest, kernels_used",
    [
        pytest.param(
            "channels_last, poolstride pooling",
            ["max (channels_last): poolstride generated"],
            marks=needs_kernels,
        ),
        ("contiguous, pytorch pooling", ["max (contiguous): pytorch (kernels disabled)"]),
    ],
)
def test_reports_the_fastest_configuration_and_its_kernels(monkeypatch, fastest, kernels_used):
    calls: dict[str, int] = {}

    def fake_step(setup):  # deterministic timings: `fastest` takes 1 ms, the others 2 ms
        calls[setup.label] = calls.get(setup.label, 0) + 1
        return 0.001 if setup.label == fastest else 0.002

    monkeypatch.setattr(latency._Setup, "step", fake_step)
    out = fastest_step(*_model_2d(), rounds=3)
    assert out["step_config"] == fastest and out["step_ms"] == pytest.approx(1.0)
    assert all(
        ms == pytest.approx(2.0) for c, ms in out["step_ms_by_config"].items() if c != fastest
    )
    assert out["downsampling_kernels"] == kernels_used
    assert calls == {c: 2 + 2 * 3 for c in out["step_ms_by_config"]}  # warm-up + 2 per round


def test_variant_without_pooling_calls_lists_no_kernels():
    out = fastest_step(*_model_2d("conv"), rounds=1)
    assert out["downsampling_kernels"] == []
    assert len(out["step_ms_by_config"]) == 2 * len(POOLING)


def test_the_model_itself_is_left_untouched():
    model, x, y = _model_2d()
    model.eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    assert any("running_mean" in k for k in before)  # has BatchNorm statistics to protect
    fastest_step(model, x, y, rounds=1)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not model.training
    assert all(p.grad is None for p in model.parameters())
    assert all(p.is_contiguous() for p in model.parameters())
