"""Models by name: ``"torchvision:resnet18"``, ``"timm:resnet18"`` -> an untrained ``nn.Module``.

Nothing is ever downloaded: torchvision models are built with ``weights=None`` and timm models
with ``pretrained=False``. :func:`load_model` also adapts a model to a dataset: the number of
classes (the builder's ``num_classes`` when it takes one, otherwise the final classifier --
``fc``, ``classifier[-1]``, ``head`` -- is replaced), the number of input channels (the first
convolution is rebuilt), and it checks one forward pass at ``input_shape`` so that an input too
small for the model's downsampling fails here with the layer named, not inside a training loop.
"""

from __future__ import annotations

import importlib.util

import torch
from torch import nn

from poolstride.errors import PoolstrideError, closest, unknown
from poolstride.geometry.shape_strings import format_shape, parse_input_shape
from poolstride.shape_trace import trace_shapes

__all__ = [
    "SOURCES",
    "adapt_input_channels",
    "check_forward",
    "list_models",
    "load_model",
    "parse_input_shape",
    "replace_classifier",
    "split_name",
]

SOURCES = ("torchvision", "timm")

# Models whose auxiliary heads would make forward() return a tuple in training mode.
_NO_AUX = {"googlenet", "inception_v3"}


def split_name(name: str) -> tuple[str, str]:
    """``"timm:resnet18"`` -> ``("timm", "resnet18")``; a bare name means torchvision."""
    source, sep, model = str(name).partition(":")
    if not sep:
        return "torchvision", source
    if source not in SOURCES:
        raise unknown("model source", source, SOURCES)
    if not model:
        raise PoolstrideError(f"model name missing in {name!r}; e.g. torchvision:resnet18")
    return source, model


def list_models(source: str = "torchvision") -> list[str]:
    """Names of the classification models of a source (``torchvision`` or ``timm``)."""
    if source == "torchvision":
        # imported on use: torchvision is slow to import
        from torchvision import models

        return sorted(models.list_models(module=models))
    if source == "timm":
        return sorted(_timm().list_models())
    raise unknown("model source", source, SOURCES)


def load_model(
    name: str,
    *,
    num_classes: int | None = None,
    input_shape: tuple[int, ...] | str | None = None,
) -> nn.Module:
    """Build ``name`` untrained; adapt classes and input channels; check one forward pass.

    ``name``: ``"torchvision:NAME"`` (or bare ``NAME``) or ``"timm:NAME"``.
    ``input_shape``: ``(C, H, W)`` without the batch dimension (or ``"3x64x64"``). When given,
    the first convolution is rebuilt for ``C`` channels if needed and a forward pass on a
    ``(1, C, H, W)`` zero tensor must give ``(1, num_classes)`` logits.
    """
    source, model_name = split_name(name)
    if num_classes is not None and int(num_classes) < 1:
        raise PoolstrideError(f"num_classes must be >= 1, got {num_classes}")
    shape = parse_input_shape(input_shape) if input_shape is not None else None
    channels = shape[0] if shape else None
    if source == "torchvision":
        model = _load_torchvision(model_name, num_classes)
    else:
        model = _load_timm(model_name, num_classes, channels)
    if num_classes is not None and _classifier_out(model) not in (None, num_classes):
        replace_classifier(model, num_classes)
    if channels is not None:
        adapt_input_channels(model, channels)
    if shape is not None:
        check_forward(model, shape, num_classes, what=f"{source}:{model_name}")
    return model


def _load_torchvision(name: str, num_classes: int | None) -> nn.Module:
    # imported on use: torchvision is slow to import
    from torchvision import models

    valid = models.list_models(module=models)
    if name not in valid:
        raise _unknown_model("torchvision", name, valid)
    kwargs: dict = {"weights": None}
    if name in _NO_AUX:
        kwargs.update(aux_logits=False, init_weights=True)
    if num_classes is not None:
        kwargs["num_classes"] = int(num_classes)
    try:
        return models.get_model(name, **kwargs)
    except TypeError:  # a builder without num_classes: build, then replace the classifier
        kwargs.pop("num_classes", None)
        return models.get_model(name, **kwargs)


def _timm():
    if importlib.util.find_spec("timm") is None:
        raise PoolstrideError(
            "timm is not installed; install it with `pip install timm` "
            "(or 'poolstride[timm]') to load timm:NAME models"
        )
    # imported on use: timm is an optional dependency
    import timm

    return timm


def _load_timm(name: str, num_classes: int | None, channels: int | None) -> nn.Module:
    timm = _timm()
    if not timm.is_model(name):
        raise _unknown_model("timm", name, timm.list_models())
    kwargs: dict = {"pretrained": False}
    if num_classes is not None:
        kwargs["num_classes"] = int(num_classes)
    if channels is not None:
        kwargs["in_chans"] = int(channels)
    return timm.create_model(name, **kwargs)


def _unknown_model(source: str, name: str, valid) -> PoolstrideError:
    hint = closest(name, valid)
    msg = f"unknown {source} model {name!r}"
    if hint:
        msg += f" (did you mean {source}:{hint}?)"
    msg += f"; list them with poolstride.zoo.list_models({source!r})"
    return PoolstrideError(msg)


def _final_classifier(model: nn.Module) -> tuple[nn.Module, str, nn.Module] | None:
    """(parent, attribute, layer) of the last Linear (or 1x1 conv) in fc/classifier/head."""
    for attr in ("fc", "classifier", "head", "heads", "last_linear"):
        layer = getattr(model, attr, None)
        if layer is None:
            continue
        if isinstance(layer, (nn.Linear, nn.Conv1d, nn.Conv2d)):
            return model, attr, layer
        if isinstance(layer, nn.Module):
            # last Linear / conv inside (classifier[-1], heads.head, squeezenet's 1x1 conv)
            found = None
            for path, sub in layer.named_modules():
                if isinstance(sub, (nn.Linear, nn.Conv1d, nn.Conv2d)) and path:
                    found = path
            if found:
                parent_path, _, leaf = found.rpartition(".")
                parent = layer.get_submodule(parent_path) if parent_path else layer
                return parent, leaf, getattr(parent, leaf)
    return None


def _classifier_out(model: nn.Module) -> int | None:
    found = _final_classifier(model)
    if found is None:
        return None
    layer = found[2]
    return layer.out_features if isinstance(layer, nn.Linear) else layer.out_channels


def replace_classifier(model: nn.Module, num_classes: int) -> nn.Module:
    """Replace the final classifier (``fc``, ``classifier[-1]``, ``head``...) in place.

    Uses timm's ``reset_classifier`` when the model has one. The new layer is freshly
    initialised with the old one's input width (a Linear, or a 1x1 conv for SqueezeNet).
    """
    if hasattr(model, "reset_classifier"):
        model.reset_classifier(num_classes)
        return model
    found = _final_classifier(model)
    if found is None:
        raise PoolstrideError(
            f"cannot find the final classifier of {type(model).__name__}; expected an "
            "attribute fc, classifier, head or heads holding a Linear layer"
        )
    parent, attr, old = found
    if isinstance(old, nn.Linear):
        new = nn.Linear(old.in_features, num_classes, bias=old.bias is not None)
    else:
        new = type(old)(old.in_channels, num_classes, kernel_size=old.kernel_size)
    setattr(parent, attr, new)
    return model


def adapt_input_channels(model: nn.Module, channels: int) -> nn.Module:
    """Rebuild the first convolution for ``channels`` input channels (fresh weights), in place."""
    for path, module in model.named_modules():
        if isinstance(module, nn.modules.conv._ConvNd):
            if module.in_channels == channels:
                return model
            if module.groups != 1:
                break
            new = type(module)(
                channels,
                module.out_channels,
                kernel_size=module.kernel_size,
                stride=module.stride,
                padding=module.padding,
                dilation=module.dilation,
                bias=module.bias is not None,
                padding_mode=module.padding_mode,
            )
            parent_path, _, leaf = path.rpartition(".")
            setattr(model.get_submodule(parent_path) if parent_path else model, leaf, new)
            return model
    raise PoolstrideError(
        f"cannot adapt {type(model).__name__} to {channels} input channels: no plain first "
        "convolution found"
    )


def check_forward(
    model: nn.Module, input_shape: tuple[int, ...], num_classes: int | None, *, what: str
) -> None:
    """One forward pass on zeros ``(1, *input_shape)``; one-line error naming the failing layer."""
    example = torch.zeros(1, *input_shape)
    trace = trace_shapes(model, example, what=what)
    out = trace.output
    if num_classes is not None and out != (1, num_classes):
        raise PoolstrideError(
            f"{what} on input {format_shape(input_shape)} gives output {format_shape(out)}, "
            f"expected 1x{num_classes} logits"
        )
