"""The kind tables agree with the module classes they are read from, and a module's ``kind``
and ``variant`` are the same however it was built."""

from __future__ import annotations

import functools
import inspect
import pickle

import pytest

from poolstride.layers import (
    DOWNSAMPLE_CLASSES,
    KIND_OPTIONS,
    KINDS,
    PARAMETER_FREE_KINDS,
    MaxPool,
    StridedConv,
    format_variant,
    make_downsample,
    parse_variant,
)
from poolstride.layers.variant import valid_tokens


def test_kinds_are_the_class_names_in_documentation_order():
    assert KINDS == tuple(DOWNSAMPLE_CLASSES)
    assert KINDS[:2] == ("max", "avg") and KINDS[-2:] == ("adaptive-max", "adaptive-avg")
    for kind, cls in DOWNSAMPLE_CLASSES.items():
        assert cls.kind == kind


def test_options_are_the_keyword_options_of_each_class_in_signature_order():
    for kind, cls in DOWNSAMPLE_CLASSES.items():
        params = inspect.signature(cls.__init__).parameters.values()
        keywords = [p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY]
        assert keywords[:2] == ["factor", "dim"], kind
        assert KIND_OPTIONS[kind] == tuple(keywords[2:]), kind


def test_every_option_has_a_token_and_is_accepted_by_its_class():
    values = {
        "kernel_size": 3,
        "stride": 1,
        "padding": 1,
        "dilation": 1,
        "ceil_mode": True,
        "count_include_pad": False,
        "p": 3.0,
        "filt_size": 5,
        "output_size": 2,
        "bias": False,
    }
    for kind, options in KIND_OPTIONS.items():
        tokens = valid_tokens(kind).split(", ")  # a KeyError if an option had no token
        assert len(tokens) == len(options) or (not options and tokens == ["none"]), kind
        given = {option: values[option] for option in options}
        module = make_downsample(kind, 4, **given)
        assert module.options == given, kind
        assert parse_variant(module.variant) == (kind, given), kind


def test_parameter_free_kinds_are_exactly_the_kinds_without_parameters():
    for kind in KINDS:
        module = make_downsample(kind, 4)
        assert (module.num_parameters() == 0) == (kind in PARAMETER_FREE_KINDS), kind
        assert DOWNSAMPLE_CLASSES[kind].learnable == (kind not in PARAMETER_FREE_KINDS), kind


def test_canonical_option_order_is_stable():
    # Variant strings are stored with results: their option order must not drift.
    assert format_variant("max", {o: 2 for o in ("dilation", "padding", "stride")}) == (
        "max:s2:pad2:d2"
    )
    assert format_variant("lp", {"kernel_size": 3, "p": 3.0}) == "lp:p3:k3"
    assert format_variant("blur-conv", {"bias": False, "filt_size": 5, "kernel_size": 3}) == (
        "blur-conv:k3:filt5:nobias"
    )


@pytest.mark.parametrize(
    "text",
    ["max", "max:k3", "max:k3:pad0:d1", "avg:k3:nocip", "lp:p3", "blur-max:filt5", "conv:k3x1"],
)
def test_kind_and_variant_are_the_same_built_directly_or_by_the_factory(text):
    kind, options = parse_variant(text)
    built = make_downsample(text, 4)
    direct = DOWNSAMPLE_CLASSES[kind](4, **options)
    assert built.kind == direct.kind == kind
    assert built.variant == direct.variant == format_variant(kind, options)
    assert repr(built) == repr(direct)
    assert f"variant={built.variant!r}" in repr(direct)


def test_variant_of_a_class_or_partial_names_its_options():
    assert MaxPool(4).variant == "max"
    assert MaxPool(4, kernel_size=3, padding=0).variant == "max:k3:pad0"
    assert make_downsample(MaxPool, 4, kernel_size=3).variant == "max:k3"
    partial = functools.partial(StridedConv, kernel_size=3, bias=False)
    assert make_downsample(partial, 4).variant == "conv:k3:nobias"


def test_variant_survives_pickling():
    module = make_downsample("avg:k3:nocip", 4)
    assert pickle.loads(pickle.dumps(module)).variant == "avg:k3:nocip"


def test_kind_signatures_are_built_from_the_option_table():
    # One declaration per option (layers.base.OPTION_DEFAULTS), the class's option_names.
    assert str(inspect.signature(MaxPool)) == (
        "(in_channels: 'int | None' = None, out_channels: 'int | None' = None, *, "
        "factor: 'int' = 2, dim: 'int' = 2, kernel_size: 'Any' = None, stride: 'Any' = None, "
        "padding: 'Any' = None, dilation: 'Any' = 1, ceil_mode: 'bool' = False) -> 'None'"
    )
    # Kinds that hold weights sized by the input need in_channels; blur-conv's kernel is 3.
    for kind in ("conv", "dwconv", "blur-conv", "space-to-depth"):
        channels = inspect.signature(DOWNSAMPLE_CLASSES[kind]).parameters["in_channels"]
        assert channels.default is inspect.Parameter.empty, kind
    blur_conv = inspect.signature(DOWNSAMPLE_CLASSES["blur-conv"]).parameters
    assert (blur_conv["kernel_size"].default, blur_conv["kernel_size"].annotation) == (3, "int")


def test_an_option_the_kind_does_not_take_is_a_type_error_naming_the_class():
    with pytest.raises(TypeError, match=r"StridedConv.__init__\(\) .*'ceil_mode'"):
        StridedConv(3, ceil_mode=True)
    with pytest.raises(TypeError, match=r"MaxPool.__init__\(\) too many positional"):
        MaxPool(3, 4, 5)
    with pytest.raises(TypeError, match=r"StridedConv.__init__\(\) missing .*'in_channels'"):
        StridedConv()
