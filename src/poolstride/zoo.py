"""Models by name: ``"torchvision:resnet18"``, ``"timm:resnet18"`` -> an ``nn.Module``.

Untrained by default (torchvision ``weights=None``, timm ``pretrained=False``): nothing is
downloaded unless ``weights`` asks for pretrained weights -- ``"DEFAULT"`` or a name of the
torchvision weights enum (``"IMAGENET1K_V2"``, ``"ResNet50_Weights.IMAGENET1K_V2"``), or for
timm ``"DEFAULT"`` (its default pretrained tag) or a pretrained tag (``"a1_in1k"``). Weights
come from torch.hub's / Hugging Face's cache when they are there; a failed download is a
one-line :class:`PoolstrideError`. :func:`load_model` also adapts a model to a dataset: the number of
classes (the builder's ``num_classes`` when it takes one, otherwise the final classifier --
``fc``, ``classifier[-1]``, ``head`` -- is replaced), the number of input channels (the first
convolution is rebuilt), and it checks one forward pass at ``input_shape`` so that an input too
small for the model's downsampling fails here with the layer named, not inside a training loop.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import pickle
import re

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
    "list_weights",
    "load_model",
    "native_input_shape",
    "torchvision_gflops",
    "parse_input_shape",
    "replace_classifier",
    "split_name",
    "zoo_names",
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


def list_models(source: str = "torchvision", pattern: str | None = None) -> list[str]:
    """Names of the classification models of a source (``torchvision`` or ``timm``).

    ``pattern``: a case-insensitive glob (``"resnet*"``); a plain word matches anywhere
    (``"resnet"`` is ``"*resnet*"``).
    """
    if source == "torchvision":
        # imported on use: torchvision is slow to import
        from torchvision import models

        names = models.list_models(module=models)
    elif source == "timm":
        names = _timm().list_models()
    else:
        raise unknown("model source", source, SOURCES)
    return sorted(n for n in names if matches(n, pattern))


def matches(name: str, pattern: str | None) -> bool:
    """``name`` matches the glob ``pattern`` (a plain word: anywhere in the name); no case."""
    if not pattern:
        return True
    pattern = pattern.lower()
    if not any(c in pattern for c in "*?["):
        pattern = f"*{pattern}*"
    return fnmatch.fnmatchcase(name.lower(), pattern)


def list_weights(name: str) -> list[str]:
    """The pretrained weights ``name`` can load: the torchvision enum's members, or timm's
    pretrained tags (``"a1_in1k"``); ``DEFAULT`` first when there are any."""
    source, model = split_name(name)
    if source == "torchvision":
        enum = _weights_enum(model)
        names = [] if enum is None else [m for m in enum.__members__ if m != "DEFAULT"]
    else:
        names = _timm_tags(model)
    return ["DEFAULT", *names] if names else []


def zoo_names(name: str) -> list[str]:
    """The zoo models a bare ``name`` could mean: ``["torchvision:resnet18", "timm:resnet18"]``
    (timm only when installed); ``[]`` when neither source has it."""
    found = []
    if name in list_models("torchvision"):
        found.append(f"torchvision:{name}")
    if importlib.util.find_spec("timm") is not None and _timm().is_model(name):
        found.append(f"timm:{name}")
    return found


def torchvision_gflops(name: str, weights: str | None = None) -> float | None:
    """torchvision's published cost of model ``name`` (``meta["_ops"]`` of ``weights``, else of
    ``DEFAULT``), in its unit "GFLOPS" -- which counts multiply-adds, i.e. GMACs; None if none."""
    name = name.partition(":")[2] if name.startswith("torchvision:") else name
    if _weights_enum(name) is None:
        return None
    ops = _torchvision_weights(name, weights or "DEFAULT").meta.get("_ops")
    return float(ops) if ops is not None else None


def native_input_shape(name: str, weights: str | None = None) -> tuple[int, ...] | None:
    """The input size ``(C, H, W)`` the model was trained at: timm's
    ``pretrained_cfg["input_size"]`` (of the tag in ``weights``, else the default one), or
    the crop size of the torchvision weights (``weights``, else ``DEFAULT``); None if unknown."""
    source, model = split_name(name)
    if source == "timm":
        timm = _timm()
        arch, tag = _timm_arch_tag(model, weights)
        cfg = timm.get_pretrained_cfg(f"{arch}.{tag}" if tag else arch)
        return tuple(int(s) for s in cfg.input_size) if cfg is not None else None
    enum = _weights_enum(model)
    if enum is None:
        return None
    chosen = _torchvision_weights(model, weights or "DEFAULT")
    crop = getattr(chosen.transforms(), "crop_size", None)
    if not crop:
        return None
    height, width = (crop[0], crop[-1]) if isinstance(crop, (list, tuple)) else (crop, crop)
    return (3, int(height), int(width))


def load_model(
    name: str,
    *,
    num_classes: int | None = None,
    input_shape: tuple[int, ...] | str | None = None,
    weights: str | None = None,
) -> nn.Module:
    """Build ``name``; adapt classes and input channels; check one forward pass.

    ``name``: ``"torchvision:NAME"`` (or bare ``NAME``) or ``"timm:NAME"``.
    ``weights``: None (untrained), ``"DEFAULT"`` or a weights name (see the module docstring,
    :func:`list_weights`); a replaced classifier or first convolution starts untrained.
    ``input_shape``: ``(C, H, W)`` without the batch dimension (or ``"3x64x64"``). When given,
    the first convolution is rebuilt for ``C`` channels if needed and a forward pass on a
    ``(1, C, H, W)`` zero tensor must give ``(1, num_classes)`` logits.
    """
    source, model_name = split_name(name)
    if num_classes is not None and int(num_classes) < 1:
        raise PoolstrideError(f"num_classes must be >= 1, got {num_classes}")
    shape = parse_input_shape(input_shape) if input_shape is not None else None
    channels = shape[0] if shape else None
    if weights is not None and (not isinstance(weights, str) or not weights.strip()):
        raise PoolstrideError(f"weights {weights!r} is not valid; use DEFAULT or a weights name")
    if source == "torchvision":
        model = _load_torchvision(model_name, num_classes, weights)
    else:
        model = _load_timm(model_name, num_classes, channels, weights)
    if num_classes is not None and _classifier_out(model) not in (None, num_classes):
        replace_classifier(model, num_classes)
    if channels is not None:
        adapt_input_channels(model, channels)
    if shape is not None:
        check_forward(model, shape, num_classes, what=f"{source}:{model_name}")
    return model


def _load_torchvision(name: str, num_classes: int | None, weights: str | None) -> nn.Module:
    # imported on use: torchvision is slow to import
    from torchvision import models

    valid = models.list_models(module=models)
    if name not in valid:
        raise _unknown_model("torchvision", name, valid)
    if weights is not None:  # the published classes; load_model replaces the classifier
        kwargs: dict = {"weights": _torchvision_weights(name, weights)}
        if name in _NO_AUX:
            kwargs["aux_logits"] = False
        return _downloading(f"torchvision:{name}", weights, models.get_model, name, **kwargs)
    kwargs = {"weights": None}
    if name in _NO_AUX:
        kwargs.update(aux_logits=False, init_weights=True)
    if num_classes is not None:
        kwargs["num_classes"] = int(num_classes)
    try:
        return models.get_model(name, **kwargs)
    except TypeError:  # a builder without num_classes: build, then replace the classifier
        kwargs.pop("num_classes", None)
        return models.get_model(name, **kwargs)


def _weights_enum(name: str):
    """torchvision's weights enum of model ``name`` (``ResNet18_Weights``), or None."""
    from torchvision import models

    try:
        return models.get_model_weights(name)
    except (ValueError, KeyError):
        return None


def _torchvision_weights(name: str, weights: str):
    """``"DEFAULT"``, ``"IMAGENET1K_V1"`` or ``"ResNet18_Weights.IMAGENET1K_V1"`` -> the enum member."""
    enum = _weights_enum(name)
    if enum is None:
        raise PoolstrideError(f"torchvision:{name} has no pretrained weights; leave out --weights")
    member = weights.strip().rpartition(".")[2]
    prefix = weights.strip().rpartition(".")[0]
    if prefix and prefix != enum.__name__ or member not in enum.__members__:
        raise unknown(f"weights for torchvision:{name}", weights, enum.__members__)
    return enum[member]


def _downloading(what: str, chosen: str, build, /, *args, **kwargs) -> nn.Module:
    """``build(*args, **kwargs)``; weights that cannot be had as one line saying what to do."""
    try:
        return build(*args, **kwargs)
    except OSError as err:  # no network, a proxy, a full disk: urllib, requests and the hub
        raise _weights_error(
            what,
            chosen,
            err,
            "they download once into torch.hub's / Hugging "
            "Face's cache, so connect once, copy the cache",
        ) from None
    except (RuntimeError, EOFError, pickle.UnpicklingError) as err:  # a damaged cached file
        raise _weights_error(
            what,
            chosen,
            err,
            "a cached file may be damaged: delete it from "
            f"{torch.hub.get_dir()} or Hugging Face's cache",
        ) from None


def _weights_error(what: str, chosen: str, err: BaseException, advice: str) -> PoolstrideError:
    reason = " ".join(str(err).split()) or type(err).__name__
    return PoolstrideError(
        f"cannot get the {chosen} weights of {what}: {reason[:200]}; {advice}, or leave out "
        "--weights for an untrained model"
    )


def _timm():
    if importlib.util.find_spec("timm") is None:
        raise PoolstrideError(
            "timm is not installed; install it with `pip install timm` "
            "(or 'poolstride[timm]') to load timm:NAME models"
        )
    # imported on use: timm is an optional dependency
    import timm

    return timm


def _load_timm(
    name: str, num_classes: int | None, channels: int | None, weights: str | None
) -> nn.Module:
    timm = _timm()
    if not timm.is_model(name):
        raise _unknown_model("timm", name, timm.list_models())
    kwargs: dict = {"pretrained": weights is not None}
    if num_classes is not None:
        kwargs["num_classes"] = int(num_classes)
    if channels is not None:
        kwargs["in_chans"] = int(channels)
    if weights is None:
        return timm.create_model(name, **kwargs)
    arch, tag = _timm_arch_tag(name, weights)
    full = f"{arch}.{tag}" if tag else arch
    return _downloading(f"timm:{name}", weights, timm.create_model, full, **kwargs)


def _timm_tags(arch: str) -> list[str]:
    """timm's pretrained tags of ``arch`` (``resnet18`` -> ``a1_in1k``, ...), default first."""
    arch = arch.partition(".")[0]
    return [n.partition(".")[2] for n in _timm().list_pretrained(f"{arch}.*")]


def _timm_arch_tag(name: str, weights: str | None) -> tuple[str, str | None]:
    """``("resnet18", "a1_in1k")`` from ``timm:resnet18.a1_in1k`` or ``weights="a1_in1k"``;
    ``DEFAULT`` (or None) keeps the name's own tag, or timm's default one (``None``)."""
    arch, _, tag = name.partition(".")
    if weights is None or weights.strip().upper() == "DEFAULT":
        return arch, tag or None
    wanted = weights.strip()
    tags = _timm_tags(arch)
    if wanted not in tags or (tag and tag != wanted):
        raise unknown(
            f"weights for timm:{arch}", wanted, ["DEFAULT", *tags] if tags else ["(none)"]
        )
    return arch, wanted


def _unknown_model(source: str, name: str, valid) -> PoolstrideError:
    other = "timm" if source == "torchvision" else "torchvision"
    elsewhere = [n for n in zoo_names(name) if n.startswith(other)]
    hint = elsewhere[0] if elsewhere else None
    if hint is None:
        near = closest(name, valid)
        hint = f"{source}:{near}" if near else None
    msg = f"unknown {source} model {name!r}"
    if hint:
        msg += f" (did you mean {hint}?)"
    stem = re.match(r"[A-Za-z]*", name).group(0) or name
    msg += f"; list them with `poolstride models {stem}`"
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
