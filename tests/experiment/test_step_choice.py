"""Training in the fastest configuration (``poolstride.experiment.step_choice``).

Two things must hold: the choice follows the timings (and keeps the default unless another
configuration is materially faster), and training in any configuration computes the same
run -- checked in float64, where only summation order may differ.
"""

import pytest
import torch

from poolstride import kernels
from poolstride.experiment import step_choice
from poolstride.experiment.config import RunConfig
from poolstride.experiment.grid import plan
from poolstride.experiment.seed_fusion import train_fused
from poolstride.experiment.task import run_task
from poolstride.models import build_model

CONFIGS = [
    (fmt, pooling)
    for fmt in ("contiguous", "channels_last")
    for pooling in ("poolstride", "pytorch")
]


@pytest.mark.parametrize(
    ("model_name", "kind"),
    [("simple", "max"), ("simple", "avg"), ("simple", "blur-max"), ("simple", "conv")]
    + [("resnet20", "max"), ("resnet20", "subsample")],
)
def test_every_configuration_trains_the_same_run(model_name, kind, float64):
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(24, 2, 8, 8, generator=g), torch.randint(0, 3, (24,), generator=g)
    cfg = RunConfig(variant=kind, steps=5, batch_size=8, log_every=1, eval_points=1)
    trained = {}
    for fmt, pooling in CONFIGS:
        torch.manual_seed(0)
        depth = {"depth": 2} if model_name == "simple" else {}
        model = build_model(model_name, kind, (2, 8, 8), 3, width=4, **depth)
        channels_last = fmt == "channels_last"
        if channels_last:
            model = model.to(memory_format=torch.channels_last)
        with kernels.use_kernels(pooling == "poolstride"):
            (result,) = train_fused(model, [cfg], x, y, channels_last=channels_last)
        trained[fmt, pooling] = (result, model.state_dict())
    ref_result, ref_state = trained["contiguous", "poolstride"]
    for result, state in trained.values():
        assert result.curve["train_loss"] == pytest.approx(
            ref_result.curve["train_loss"], abs=1e-10
        )
        for name, tensor in state.items():
            torch.testing.assert_close(tensor, ref_state[name], atol=1e-9, rtol=0)


def _fake_timings(monkeypatch, ms: dict[str, float]):
    timed = []

    def fake(model, x, y, configs, **kw):
        timed.append([f"{c[0]}, {c[1]} pooling" for c in configs])
        return {label: ms[label] for label in timed[-1]}

    monkeypatch.setattr(step_choice, "time_configurations", fake)
    step_choice._choose.cache_clear()
    return timed


def _digits(variant="max", **kw):
    return RunConfig(dataset="digits", variant=variant, steps=3, batch_size=16, **kw)


ALL_MS = {
    "contiguous, poolstride pooling": 10.0,
    "contiguous, pytorch pooling": 12.0,
    "channels_last, poolstride pooling": 9.5,
    "channels_last, pytorch pooling": 8.0,
}


def test_a_materially_faster_configuration_is_chosen(monkeypatch):
    timed = _fake_timings(monkeypatch, ALL_MS)
    choice = step_choice.choose_step(_digits())
    assert sorted(timed[0]) == sorted(ALL_MS)  # 2D input, kernels serve max pooling: all four
    assert (choice.channels_last, choice.pooling_kernels) == (True, False)
    assert choice.config == "channels_last, pytorch pooling"
    assert choice.reason.startswith("fastest: 1.25x the default's speed")


def test_the_default_stays_unless_10_percent_faster(monkeypatch):
    _fake_timings(monkeypatch, {**ALL_MS, "channels_last, pytorch pooling": 9.2})
    choice = step_choice.choose_step(_digits())
    assert (choice.channels_last, choice.pooling_kernels) == (False, None)
    assert choice.config == "contiguous, poolstride pooling"
    assert choice.reason.startswith("default: no configuration 10% faster")


def test_forced_channels_last_only_chooses_the_kernels(monkeypatch):
    timed = _fake_timings(monkeypatch, ALL_MS)
    choice = step_choice.choose_step(_digits(), channels_last=True)
    assert sorted(timed[0]) == [
        "channels_last, poolstride pooling",
        "channels_last, pytorch pooling",
    ]
    assert choice.channels_last and choice.pooling_kernels is False


def test_a_variant_without_kernel_pooling_times_only_the_formats(monkeypatch):
    timed = _fake_timings(monkeypatch, ALL_MS)
    step_choice.choose_step(_digits("conv"))
    assert sorted(timed[0]) == ["channels_last, pytorch pooling", "contiguous, pytorch pooling"]
    one = step_choice.choose_step(_digits("conv"), channels_last=True)
    assert one.reason == "default: the only configuration"
    assert one.config == "channels_last, pytorch pooling"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [({"deterministic": True}, "--deterministic"), ({"amp": "bf16"}, "--amp bf16")],
)
def test_deterministic_and_amp_runs_are_not_timed(monkeypatch, changes, reason):
    timed = _fake_timings(monkeypatch, ALL_MS)
    choice = step_choice.choose_step(_digits(**changes))
    assert not timed and reason in choice.reason and not choice.channels_last


def test_plan_and_run_carry_the_choice_into_every_run(monkeypatch):
    _fake_timings(monkeypatch, ALL_MS)
    configs = [_digits(seed=s) for s in (0, 1)]
    tasks, _ = plan(configs, batch_seeds=True, autotune=True)
    (task,) = tasks
    assert task.channels_last and task.pooling_kernels is False and task.own_loop
    for outcome in run_task(task):
        assert outcome.metrics["train_step_config"] == "channels_last, pytorch pooling"
        assert outcome.metrics["train_step_choice"].startswith("fastest: 1.25x")
        assert outcome.metrics["channels_last"] is True
    untuned, _ = plan(configs, batch_seeds=True)
    assert untuned[0].step_reason == "not tuned" and not untuned[0].channels_last
