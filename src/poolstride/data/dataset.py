"""The :class:`Dataset` record every loader returns, and the operations shared by loaders.

A dataset is held in memory as tensors: the experiments here are small (MNIST-1D,
CIFAR-sized images), so the training loop can index batches directly and every seed sees
exactly the same bytes. Image folders are the exception that proves it: their inputs are
:class:`~poolstride.data.standardized_images.StandardizedImages` — the decoded uint8 pixels,
in memory or memory-mapped from the decode cache, read as standardised float32 batches
(``x[idx]``) — so a folder costs the bytes of its images, not four times that.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from poolstride.data.standardized_images import StandardizedImages
from poolstride.errors import PoolstrideError


@dataclass(frozen=True, eq=False, repr=False)
class Dataset:
    """A classification dataset (inputs readable by row, labels in memory).

    Attributes:
        name: the name it was loaded under (``"mnist1d"``, ``"folder:/data/pets"``, ...).
        x_train, x_test: float32 tensors ``(N, C, L)`` (1D) or ``(N, C, H, W)`` (2D), or
            :class:`~poolstride.data.standardized_images.StandardizedImages` (image folders),
            whose rows ``x[idx]`` read as such float32 tensors.
        y_train, y_test: int64 tensors ``(N,)`` with labels in ``[0, num_classes)``.
        num_classes: number of classes.
        input_shape: one example's shape, ``(C, L)`` or ``(C, H, W)``.
        class_names: one name per class, index = label.
        normalization: how inputs were scaled, in words (reports print it).
        notes: what the loader found worth telling (``note:``/``warning:`` lines: per-class
            counts, duplicates, imbalance); empty for the built-in sets.
    """

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int
    input_shape: tuple[int, ...]
    class_names: tuple[str, ...]
    normalization: str = field(default="")
    notes: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        for split in ("train", "test"):
            x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
            if x.dtype != torch.float32 or y.dtype != torch.int64:
                raise PoolstrideError(
                    f"dataset {self.name!r}: x_{split} must be float32 and y_{split} int64, "
                    f"got {x.dtype} and {y.dtype}"
                )
            if x.ndim not in (3, 4) or tuple(x.shape[1:]) != tuple(self.input_shape):
                raise PoolstrideError(
                    f"dataset {self.name!r}: x_{split} has shape {tuple(x.shape)}, "
                    f"expected (N, *{tuple(self.input_shape)}) with 1 or 2 spatial dims"
                )
            if y.shape != (x.shape[0],):
                raise PoolstrideError(
                    f"dataset {self.name!r}: y_{split} has shape {tuple(y.shape)}, "
                    f"expected ({x.shape[0]},)"
                )
        if len(self.class_names) != self.num_classes:
            raise PoolstrideError(
                f"dataset {self.name!r}: {len(self.class_names)} class names for "
                f"{self.num_classes} classes"
            )

    @property
    def dim(self) -> int:
        """Number of spatial dimensions: 1 for sequences, 2 for images."""
        return len(self.input_shape) - 1

    @property
    def train_size(self) -> int:
        return int(self.x_train.shape[0])

    @property
    def test_size(self) -> int:
        return int(self.x_test.shape[0])

    def __repr__(self) -> str:  # the tensors themselves would flood the terminal
        return (
            f"Dataset(name={self.name!r}, train={self.train_size}, test={self.test_size}, "
            f"input_shape={self.input_shape}, num_classes={self.num_classes})"
        )

    def describe(self) -> str:
        """One line for logs and reports."""
        shape = "x".join(str(s) for s in self.input_shape)
        return (
            f"{self.name}: {self.train_size} train / {self.test_size} test, input {shape}, "
            f"{self.num_classes} classes"
        )


def stratified_indices(labels: np.ndarray, size: int, seed: int) -> np.ndarray:
    """Pick ``size`` indices of ``labels`` keeping class proportions, deterministic in ``seed``.

    Each class ``c`` with ``n_c`` examples gets ``floor(size * n_c / N)`` picks; the few left
    over go to the classes with the largest remainders (ties broken by class index), so the
    result has exactly ``size`` indices, returned sorted.
    """
    labels = np.asarray(labels)
    total = len(labels)
    classes, counts = np.unique(labels, return_counts=True)
    exact = size * counts / total
    take = np.floor(exact).astype(int)
    leftover = size - int(take.sum())
    order = np.lexsort((classes, -(exact - take)))  # largest remainder first
    take[order[:leftover]] += 1
    rng = np.random.default_rng(seed)
    picked = [
        rng.choice(np.flatnonzero(labels == c), size=k, replace=False)
        for c, k in zip(classes, take)
    ]
    return np.sort(np.concatenate(picked))


def subsample_train(dataset: Dataset, train_size: int | None, seed: int) -> Dataset:
    """Return ``dataset`` with a stratified subset of ``train_size`` training examples."""
    if train_size is None:
        return dataset
    if isinstance(train_size, bool) or not isinstance(train_size, int) or train_size < 1:
        raise PoolstrideError(f"train_size must be a positive integer, got {train_size!r}")
    available = dataset.train_size
    if train_size > available:
        raise PoolstrideError(
            f"train_size={train_size} is larger than the {available} training examples "
            f"of {dataset.name!r}"
        )
    if train_size < dataset.num_classes:
        raise PoolstrideError(
            f"train_size={train_size} is smaller than the number of classes "
            f"({dataset.num_classes}) of {dataset.name!r}; stratified sampling needs at least one per class"
        )
    if train_size == available:
        return dataset
    idx = torch.from_numpy(stratified_indices(dataset.y_train.numpy(), train_size, seed))
    x = dataset.x_train  # images keep their storage: ``take`` copies uint8 rows, or indexes
    x_train = x.take(idx) if isinstance(x, StandardizedImages) else x[idx]
    return replace(dataset, x_train=x_train, y_train=dataset.y_train[idx])


def standardize(
    x_train: torch.Tensor, x_test: torch.Tensor, *, inplace: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel standardisation with the training split's statistics.

    ``x' = (x - mean_c) / std_c`` where mean and (unbiased) std are taken over all training
    examples and positions of channel ``c``; the same constants are applied to the test split,
    so nothing about the test data leaks into training. ``inplace=True`` overwrites the inputs
    (the loaders use it so that a 50,000-image set is not copied).
    """
    reduce = [d for d in range(x_train.ndim) if d != 1]
    # float32 statistics: torch reduces with cascaded sums, accurate to ~1e-6 here, and a
    # float64 copy of CIFAR-sized data would cost over a gigabyte.
    std, mean = torch.std_mean(x_train, dim=reduce, keepdim=True)
    std = std.clamp_min(1e-8)
    if inplace:
        return x_train.sub_(mean).div_(std), x_test.sub_(mean).div_(std)
    return (x_train - mean) / std, (x_test - mean) / std


IMAGE_NORMALIZATION = (
    "pixels scaled to [0, 1], then standardised per channel with the training split's mean/std"
)


def cache_dir() -> Path:
    """Where generated data is cached: ``$POOLSTRIDE_CACHE_DIR``, else ``$XDG_CACHE_HOME/poolstride``,
    else ``~/.cache/poolstride``."""
    if env := os.environ.get("POOLSTRIDE_CACHE_DIR"):
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "poolstride"


def default_data_dir() -> Path:
    """Where downloadable datasets live unless ``data_dir`` is given:
    ``$POOLSTRIDE_DATA_DIR``, else ``<cache_dir>/data``."""
    if env := os.environ.get("POOLSTRIDE_DATA_DIR"):
        return Path(env).expanduser()
    return cache_dir() / "data"


def load_cached_arrays(path: Path) -> dict[str, np.ndarray] | None:
    """Read an ``.npz`` cache file, or None when absent or unreadable (then it is rebuilt)."""
    try:
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    except (OSError, ValueError, EOFError):
        return None


def save_cached_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write an ``.npz`` atomically (temp file + rename) so parallel runs never read half a file.

    A cache that cannot be written (read-only home) is not an error: the data is just rebuilt
    next time.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
        np.savez(tmp, **arrays)
        os.replace(tmp, path)
    except OSError:
        pass
