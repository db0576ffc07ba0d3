"""Contracts other modules rely on: the functional dispatch hook, pickling, state dicts, dtypes."""

from __future__ import annotations

import copy
import io
import pickle

import pytest
import torch

from poolstride.layers import KINDS, PARAMETER_FREE_KINDS, functional, make_downsample

# Kinds whose max/avg arithmetic must go through poolstride.layers.functional.
USES_HOOK = {
    "max": {"max_pool"},
    "avg": {"avg_pool"},
    "lp": {"avg_pool"},
    "mixed": {"max_pool", "avg_pool"},
    "gated": {"max_pool", "avg_pool"},
    "blur-max": {"max_blur_pool"},
    "blur-avg": {"blur_pool"},
    "blur-conv": {"blur_pool"},
}


@pytest.mark.parametrize("kind", sorted(USES_HOOK))
def test_pooling_goes_through_the_functional_dispatch_point(kind, monkeypatch):
    calls = []
    for name in ("max_pool", "avg_pool", "blur_pool", "max_blur_pool"):
        original = getattr(functional, name)

        def spy(*args, _name=name, _original=original, **kwargs):
            calls.append(_name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(functional, name, spy)
    make_downsample(kind, 3)(torch.rand(1, 3, 8, 8) + 0.1)
    assert calls, kind
    assert set(calls) == USES_HOOK[kind]


def test_functional_receives_normalised_tuples(monkeypatch):
    seen = {}

    def spy(x, kernel_size, stride, padding, dilation, ceil_mode):
        seen.update(k=kernel_size, s=stride, p=padding, d=dilation, c=ceil_mode)
        return torch.nn.functional.max_pool1d(x, kernel_size, stride, padding, dilation, ceil_mode)

    monkeypatch.setattr(functional, "max_pool", spy)
    make_downsample("max:k3:ceil", 2, dim=1)(torch.randn(1, 2, 9))
    assert seen == {"k": (3,), "s": (2,), "p": (1,), "d": (1,), "c": True}


@pytest.mark.parametrize("kind", KINDS)
def test_modules_pickle_deepcopy_and_reload_state(kind):
    module = make_downsample(kind, 4, 6)
    x = torch.randn(2, 4, 8, 8)
    clone = pickle.loads(pickle.dumps(module))
    twin = copy.deepcopy(module)
    fresh = make_downsample(kind, 4, 6)
    buffer = io.BytesIO()
    torch.save(module.state_dict(), buffer)
    buffer.seek(0)
    fresh.load_state_dict(torch.load(buffer))
    with torch.no_grad():
        ref = module(x)
        for other in (clone, twin, fresh):
            assert torch.equal(other(x), ref)


@pytest.mark.parametrize("kind", KINDS)
def test_float64_module_keeps_float64(kind):
    module = make_downsample(kind, 3).double()
    x = torch.rand(1, 3, 8, 8, dtype=torch.float64) + 0.1
    assert module(x).dtype == torch.float64


def test_parameter_free_kinds_have_no_parameters_or_state():
    for kind in PARAMETER_FREE_KINDS:
        module = make_downsample(kind, 5)
        assert list(module.parameters()) == [] and list(module.state_dict()) == [], kind


def test_functional_blur_pool_builds_its_own_filter_when_none_is_given():
    x = torch.randn(2, 3, 9, 7)
    module = make_downsample("blur-avg:filt4", 3)
    assert torch.equal(functional.blur_pool(x, 4, 2), module(x))


@pytest.mark.parametrize("kind", KINDS)
def test_submodules_are_listed_in_execution_order(kind):
    module = make_downsample(kind, 4, 6)
    names = [name for name, _ in module.named_children()]
    if "proj" in names:
        assert names[-1] == "proj"
