"""MNIST, Fashion-MNIST, CIFAR-10, CIFAR-100 and SVHN through ``torchvision.datasets``.

torchvision reads (and with ``download=True`` fetches) the original files; we take its decoded
``uint8`` arrays straight from the dataset object rather than going image by image through
PIL, which is orders of magnitude faster for 50,000 images.

Files live in ``data_dir`` (default :func:`poolstride.data.dataset.default_data_dir`), in
torchvision's layout. With ``download=False`` and files missing, a one-line
:class:`PoolstrideError` says where the files are expected and that ``--download`` (with
internet) fetches them.

Normalisation: pixels scaled to [0, 1], then standardised per channel with the training
split's mean/std.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from poolstride.data.dataset import IMAGE_NORMALIZATION, Dataset, default_data_dir, standardize
from poolstride.errors import PoolstrideError


@dataclass(frozen=True)
class TorchvisionSpec:
    cls_name: str  # attribute of torchvision.datasets
    split_style: str  # "train" → train=True/False; "split" → split="train"/"test"
    expected: str  # the files torchvision looks for, relative to data_dir (for error messages)


TORCHVISION_SETS: dict[str, TorchvisionSpec] = {
    "mnist": TorchvisionSpec("MNIST", "train", "MNIST/raw/train-images-idx3-ubyte, ..."),
    "fashion-mnist": TorchvisionSpec(
        "FashionMNIST", "train", "FashionMNIST/raw/train-images-idx3-ubyte, ..."
    ),
    "cifar10": TorchvisionSpec("CIFAR10", "train", "cifar-10-batches-py/"),
    "cifar100": TorchvisionSpec("CIFAR100", "train", "cifar-100-python/"),
    "svhn": TorchvisionSpec("SVHN", "split", "train_32x32.mat and test_32x32.mat"),
}


def _open(name: str, spec: TorchvisionSpec, root: Path, train: bool, download: bool):
    # imported on use: torchvision is slow to import
    import torchvision.datasets as tvd

    cls = getattr(tvd, spec.cls_name)
    kwargs = (
        {"train": train} if spec.split_style == "train" else {"split": "train" if train else "test"}
    )
    try:
        return cls(str(root), download=download, **kwargs)
    except RuntimeError as exc:
        if download:
            raise PoolstrideError(
                f"dataset {name!r} could not be prepared in {root}: {str(exc).splitlines()[0]}"
            ) from exc
        raise PoolstrideError(
            f"dataset {name!r} needs a download: run with --download (needs internet; "
            f"download=True in Python) or put the files at {root}/{spec.expected}"
        ) from exc
    except OSError as exc:  # network failures during download (URLError is an OSError)
        raise PoolstrideError(
            f"dataset {name!r} could not be downloaded into {root}: {exc}; "
            f"check the internet connection or put the files at {root}/{spec.expected}"
        ) from exc


def _arrays(ds) -> tuple[torch.Tensor, torch.Tensor]:
    """Images as float32 ``(N, C, H, W)`` in [0, 1] and labels as int64, from a torchvision set."""
    data = ds.data
    data = data.numpy() if isinstance(data, torch.Tensor) else np.asarray(data)
    if data.ndim == 3:  # MNIST-like: (N, H, W)
        data = data[:, None]
    elif data.shape[-1] in (1, 3) and data.shape[1] not in (1, 3):  # CIFAR: (N, H, W, C)
        data = data.transpose(0, 3, 1, 2)
    labels = getattr(ds, "targets", None)
    if labels is None:
        labels = ds.labels  # SVHN
    labels = labels.numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    x = torch.from_numpy(np.ascontiguousarray(data)).float().div_(255.0)
    return x, torch.from_numpy(labels.astype(np.int64))


def load_torchvision(name: str, data_dir: str | Path | None, download: bool) -> Dataset:
    """Load one of :data:`TORCHVISION_SETS` fully into memory."""
    spec = TORCHVISION_SETS[name]
    root = Path(data_dir).expanduser() if data_dir is not None else default_data_dir()
    train_set = _open(name, spec, root, True, download)
    test_set = _open(name, spec, root, False, download)
    x_train, y_train = _arrays(train_set)
    x_test, y_test = _arrays(test_set)
    x_train, x_test = standardize(x_train, x_test, inplace=True)
    classes = getattr(train_set, "classes", None) or [str(i) for i in range(10)]  # SVHN: digits
    return Dataset(
        name=name,
        x_train=x_train,
        y_train=y_train,
        x_test=x_test,
        y_test=y_test,
        num_classes=len(classes),
        input_shape=tuple(x_train.shape[1:]),
        class_names=tuple(str(c) for c in classes),
        normalization=IMAGE_NORMALIZATION,
    )
