"""What one run works on: its dataset, its tensors on the device, and its model.

Everything here is cached per process (a worker trains many runs of one grid on the same
data), and deterministic: :func:`build` draws the initial weights from torch's global RNG,
which the caller seeds with the run's seed first.
"""

from __future__ import annotations

from functools import lru_cache

import torch
import torch.nn as nn

from poolstride.data import StandardizedImages, load_dataset
from poolstride.errors import PoolstrideError
from poolstride.experiment.config import RunConfig, dataset_options
from poolstride.models import build_model, match_budget
from poolstride.surgery import model_variant
from poolstride.zoo import load_model


@lru_cache(maxsize=4)
def cached_dataset(
    dataset: str,
    data_dir: str | None,
    download: bool,
    train_size: int | None,
    data_seed: int,
    stream: bool = False,
    memory_cap: float | None = None,
    image_size: str | None = None,
    data_options: str | None = None,
):
    """:func:`poolstride.data.load_dataset`, loaded once per process and arguments
    (``stream`` and ``memory_cap`` apply to image folders only; ``image_size`` and
    ``data_options`` are a config's checked text forms, see
    :func:`~poolstride.experiment.config.dataset_options`)."""
    folder = {"stream": stream, "memory_cap": memory_cap}
    return load_dataset(
        dataset,
        data_dir=data_dir,
        download=download,
        train_size=train_size,
        seed=data_seed,
        **(folder if dataset.strip().lower().startswith("folder:") else {}),
        **dataset_options(image_size, data_options),
    )


def load_data(cfg: RunConfig):
    """The run's dataset (cached per process: every seed and variant reuses the same one)."""
    return cached_dataset(
        cfg.dataset,
        cfg.data_dir,
        cfg.download,
        cfg.train_size,
        cfg.data_seed,
        cfg.stream,
        cfg.memory_cap,
        cfg.image_size,
        cfg.data_options,
    )


@lru_cache(maxsize=4)
def tensors_on_device(device: str, dataset) -> tuple[torch.Tensor | StandardizedImages, ...]:
    """``(x_train, y_train, x_test, y_test)`` of ``dataset`` on ``device`` (cached).

    Image-folder inputs stay uint8 until they reach the device: held there, or streamed to
    it batch by batch (see :class:`~poolstride.data.standardized_images.StandardizedImages`);
    either way ``x[idx]`` is a standardised float32 batch on ``device``.
    """
    tensors = (dataset.x_train, dataset.y_train, dataset.x_test, dataset.y_test)
    if device.startswith("cuda"):  # from pinned host memory: a fast, asynchronous copy
        return tuple(
            t.to(device)
            if isinstance(t, StandardizedImages)
            else t.pin_memory().to(device, non_blocking=True)
            for t in tensors
        )
    return tuple(t.to(device) for t in tensors)


def build(cfg: RunConfig, dataset) -> nn.Module:
    """The run's model for ``cfg.variant`` on ``dataset`` (see :func:`build_for`)."""
    return build_for(cfg, tuple(dataset.input_shape), dataset.num_classes)


def build_for(cfg: RunConfig, input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
    """The run's model for ``cfg.variant`` (width matched to the baseline when asked).

    ``cfg.model`` is a poolstride backbone (``simple``, ``resnet20``, ...) built with the
    variant's downsampling, or a zoo model (``torchvision:resnet18``, ``timm:resnet18``) whose
    classifier and input channels are adapted to the data and whose downsampling sites are
    rewritten by :func:`poolstride.surgery.model_variant` (``original`` keeps them). The
    report rebuilds untrained models through this same function from the stored config.
    """
    if ":" in cfg.model:
        return build_zoo(cfg, input_shape, num_classes)
    return build_model(
        cfg.model,
        cfg.variant,
        input_shape,
        num_classes,
        head=cfg.head,
        width=matched_width_for(cfg, input_shape, num_classes),
        depth=cfg.depth,
    )


def build_zoo(cfg: RunConfig, input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
    """A zoo model (``torchvision:NAME``, ``timm:NAME``) adapted to the data, with its
    downsampling rewritten to ``cfg.variant``; options for poolstride's own models refused."""
    for name, value, default in (
        ("width", cfg.width, None),
        ("depth", cfg.depth, None),
        ("match", cfg.match, "none"),
        ("head", cfg.head, "gap"),
    ):
        if value != default:
            raise PoolstrideError(
                f"--{name} {value} applies to poolstride's own models, not {cfg.model!r}; "
                f"leave it at its default ({default})"
            )
    base = load_model(cfg.model, num_classes=num_classes, input_shape=tuple(input_shape))
    return model_variant(base, cfg.variant, input_shape=tuple(input_shape))


def matched_width(cfg: RunConfig, dataset) -> int | None:
    """The model width of ``cfg`` on ``dataset`` (see :func:`matched_width_for`)."""
    return matched_width_for(cfg, tuple(dataset.input_shape), dataset.num_classes)


def matched_width_for(cfg: RunConfig, input_shape: tuple[int, ...], num_classes: int) -> int | None:
    """``cfg.width``, or with ``cfg.match`` the width at which the variant costs what the
    baseline (``cfg.match_reference``) costs at ``cfg.width`` in params or MACs."""
    if cfg.match == "none" or cfg.match_reference in (None, cfg.variant):
        return cfg.width
    return cached_match(
        cfg.model,
        cfg.variant,
        cfg.match_reference,
        tuple(input_shape),
        num_classes,
        cfg.match,
        cfg.head,
        cfg.width,
        cfg.depth,
    )


@lru_cache(maxsize=64)
def cached_match(model, variant, reference, input_shape, num_classes, by, head, width, depth):
    """:func:`poolstride.models.match_budget`, computed once per process and arguments."""
    return match_budget(
        model,
        variant,
        reference,
        input_shape,
        num_classes,
        by=by,
        head=head,
        width=width,
        depth=depth,
    )
