"""``build_model``: one entry point from a model name and a downsampling kind to an ``nn.Module``."""

from __future__ import annotations

import inspect
from functools import partial

from torch import nn

from poolstride.errors import PoolstrideError, closest, unknown
from poolstride.models.allcnn import build_allcnn
from poolstride.models.arguments import check_model_args
from poolstride.models.lenet import build_lenet5
from poolstride.models.resnet import build_resnet20, build_resnet56, build_resnet110
from poolstride.models.simple import build_simple
from poolstride.zoo import zoo_names

#: Each model's builder: ``builder(args: ModelArgs, **options)``; its keyword-only
#: parameters are the model's options (``depth`` only where the depth is not fixed).
_BUILDERS = {
    "simple": build_simple,
    "allcnn-a": partial(build_allcnn, "a"),
    "allcnn-b": partial(build_allcnn, "b"),
    "allcnn-c": partial(build_allcnn, "c"),
    "resnet20": build_resnet20,
    "resnet56": build_resnet56,
    "resnet110": build_resnet110,
    "lenet5": build_lenet5,
}

#: Model names accepted by :func:`build_model`.
MODELS: tuple[str, ...] = tuple(_BUILDERS)

#: The kind that reproduces each model as published (``simple``: max pooling, the usual
#: baseline; All-CNN: the paper's 3×3 stride-2 max-pool; ResNet-20: its strided convolutions;
#: LeNet-5: average subsampling).
DEFAULT_KINDS: dict[str, str] = {
    "simple": "max",
    "allcnn-a": "max:k3",
    "allcnn-b": "max:k3",
    "allcnn-c": "max:k3",
    "resnet20": "subsample",
    "resnet56": "subsample",
    "resnet110": "subsample",
    "lenet5": "avg",
}


#: Base width of each model at its published size (the ``width`` argument's default).
DEFAULT_WIDTHS: dict[str, int] = {
    "simple": 32,
    "allcnn-a": 96,
    "allcnn-b": 96,
    "allcnn-c": 96,
    "resnet20": 16,
    "resnet56": 16,
    "resnet110": 16,
    "lenet5": 6,
}


def unknown_model(name) -> PoolstrideError:
    """The unknown-model error: poolstride's models and the zoo prefixes; a bare zoo name
    (``resnet18``) is answered with ``torchvision:resnet18`` / ``timm:resnet18``."""
    found = zoo_names(str(name)) if isinstance(name, str) and name else []
    if not found:
        near = closest(str(name), MODELS)
        found = [near] if near else []
    hint = f" (did you mean {' or '.join(repr(n) for n in found)}?)" if found else ""
    return PoolstrideError(
        f"unknown model {str(name)!r}; valid: {', '.join(sorted(MODELS))}, torchvision:NAME or "
        f"timm:NAME{hint}; list them with `poolstride models`"
    )


def split_model_name(name: str) -> tuple[str, dict[str, str | int | bool]]:
    """``"resnet56,shortcut=resnet-d,stem=deep3x3"`` -> ``("resnet56", {"shortcut": "resnet-d",
    "stem": "deep3x3"})``: a model name may carry its builder options (so ``--model`` passes
    them); integer values become ints, ``true``/``false`` booleans."""
    base, *pairs = (part.strip() for part in str(name).split(","))
    options: dict[str, str | int | bool] = {}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        if not eq or not key.strip() or not value.strip():
            raise PoolstrideError(
                f"model {name!r}: options are written NAME,option=value,...; got {pair!r}"
            )
        value = value.strip().lower()
        booleans = {"true": True, "false": False}
        parsed = booleans.get(value, int(value) if value.isdigit() else value)
        options[key.strip().lower()] = parsed
    return base, options


def build_model(
    name: str,
    kind,
    input_shape,
    num_classes: int,
    *,
    head: str = "gap",
    width: int | None = None,
    depth: int | None = None,
    **options,
) -> nn.Module:
    """Build model ``name`` with every downsampling site made by ``make_downsample(kind, ...)``.

    Args:
        name: one of :data:`MODELS`.
        kind: a downsampling kind string with optional options (``"max"``, ``"conv:k3"``, ...),
            or anything else ``make_downsample`` accepts. ``None`` means the model's
            published kind (:data:`DEFAULT_KINDS`).
        input_shape: ``(C, L)`` for 1D models or ``(C, H, W)`` for 2D; every model is built
            in either dimension.
        num_classes: number of outputs.
        head: global head (``gap gmp avgmax catavgmax flatten``) before the final linear layer.
        width: base channel count (``simple`` 32, All-CNN 96, ResNet-20 16, LeNet-5 6);
            other layers scale with it.
        depth: number of conv blocks of ``simple`` (default 3); the others have a fixed depth.
        **options: builder options — ``simple``: kernel_size, batch_norm;
            All-CNN: extra_conv (the paper's ConvPool control); ResNets: shortcut, stem
            (:mod:`poolstride.models.resnet`). They may also be written into ``name``:
            ``"resnet56,shortcut=resnet-d"`` (:func:`split_model_name`).

    Returns:
        A module mapping ``(N, *input_shape)`` to logits ``(N, num_classes)``, with
        ``features`` and ``head`` parts and ``model_name``/``kind`` attributes.
    """
    if isinstance(name, str) and "," in name:
        name, named = split_model_name(name)
        options = {**named, **options}
    if not isinstance(name, str) or name.lower() not in MODELS:
        raise unknown_model(name)
    name = name.lower()
    if kind is None:
        kind = DEFAULT_KINDS[name]
    builder = _BUILDERS[name]
    parameters = set(inspect.signature(builder).parameters) - {"args"}
    accepted = parameters - {"depth"}
    bad = sorted(set(options) - accepted)
    if bad:
        raise unknown(f"option for model {name!r}:", bad[0], accepted or {"(none)"})
    if depth is not None:
        if "depth" not in parameters:
            raise PoolstrideError(f"{name} has a fixed depth; depth={depth!r} is only for 'simple'")
        options["depth"] = depth
    args = check_model_args(name, kind, input_shape, num_classes, head, width, DEFAULT_WIDTHS[name])
    model = builder(args, **options)
    if not isinstance(model, nn.Module):  # pragma: no cover - builders always return modules
        raise PoolstrideError(f"model {name!r} did not build")
    return model
