"""``folder:PATH`` — a user's images in class folders (torchvision ``ImageFolder`` layout).

Two layouts are accepted:

- ``PATH/train/<class>/*`` and ``PATH/test/<class>/*`` — the split is the user's;
- ``PATH/<class>/*`` — one folder, split here: stratified, ``test_fraction`` (default 20%)
  of each class goes to test, with a fixed split seed (0) so the test set never depends on
  the experiment's seed.

Images are decoded with PIL: grey-scale if every image is grey-scale, else RGB. They are
resized (bilinear) to ``image_size`` — an int or ``(H, W)``; by default the most common size
among the images, so a folder of same-sized images is never resampled. Class indices follow
sorted class-folder names, as in torchvision.

Normalisation: pixels scaled to [0, 1], then standardised per channel with the training
split's mean/std.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import torch

from poolstride.data.dataset import IMAGE_NORMALIZATION, Dataset, standardize, stratified_indices
from poolstride.errors import PoolstrideError

SPLIT_SEED = 0
_GREY_MODES = {"1", "L", "LA", "I", "I;16", "F"}


def _scan(root: Path) -> tuple[list[str], list[tuple[str, int]]]:
    """Classes (sorted folder names) and ``(file, class index)`` samples under ``root``."""
    # imported on use: torchvision is slow to import
    from torchvision.datasets.folder import IMG_EXTENSIONS, find_classes, make_dataset

    try:
        classes, class_to_idx = find_classes(str(root))
    except FileNotFoundError as exc:
        raise PoolstrideError(
            f"image folder {str(root)!r} has no class sub-folders; expected {root}/<class>/<image>"
        ) from exc
    try:
        samples = make_dataset(str(root), class_to_idx, extensions=IMG_EXTENSIONS)
    except FileNotFoundError as exc:  # a class folder without any image
        raise PoolstrideError(f"image folder {str(root)!r}: {str(exc).splitlines()[0]}") from exc
    return classes, samples


def _size_arg(image_size) -> tuple[int, int] | None:
    if image_size is None:
        return None
    if isinstance(image_size, int) and not isinstance(image_size, bool):
        image_size = (image_size, image_size)
    try:
        h, w = (int(s) for s in image_size)
    except (TypeError, ValueError):
        raise PoolstrideError(
            f"image_size must be an int or (height, width), got {image_size!r}"
        ) from None
    if h < 1 or w < 1:
        raise PoolstrideError(f"image_size must be positive, got {image_size!r}")
    return h, w


def _decode(paths: list[str], size: tuple[int, int] | None, grey: bool) -> torch.Tensor:
    # imported on use: only the folder loader decodes images
    from PIL import Image

    mode = "L" if grey else "RGB"
    out = None
    for i, path in enumerate(paths):
        with Image.open(path) as img:
            img = img.convert(mode)
            if img.size != (size[1], size[0]):  # PIL sizes are (W, H)
                img = img.resize((size[1], size[0]), Image.Resampling.BILINEAR)
            arr = np.asarray(img, dtype=np.uint8)
        if out is None:
            out = np.empty((len(paths), *arr.shape), dtype=np.uint8)
        out[i] = arr
    x = torch.from_numpy(out).float().div_(255.0)
    return x.unsqueeze(1) if grey else x.permute(0, 3, 1, 2).contiguous()


def _probe(paths: list[str]) -> tuple[tuple[int, int], bool]:
    """Most common (H, W) and whether every image is grey-scale (reads headers only)."""
    # imported on use: only the folder loader decodes images
    from PIL import Image

    sizes: Counter = Counter()
    grey = True
    for path in paths:
        try:
            with Image.open(path) as img:
                sizes[(img.size[1], img.size[0])] += 1
                grey &= img.mode in _GREY_MODES
        except OSError as exc:
            raise PoolstrideError(f"cannot read image {path!r}: {exc}") from exc
    return sizes.most_common(1)[0][0], grey


def load_folder(
    path: str | Path, *, image_size=None, test_fraction: float = 0.2, name: str | None = None
) -> Dataset:
    """Load an image folder as ``(N, C, H, W)`` tensors (C = 1 or 3)."""
    root = Path(path).expanduser()
    name = name or f"folder:{path}"
    if not root.is_dir():
        raise PoolstrideError(
            f"image folder {str(path)!r} does not exist; expected PATH/train/<class>/<image> and "
            "PATH/test/<class>/<image>, or PATH/<class>/<image>"
        )
    if (root / "train").is_dir() and (root / "test").is_dir():
        classes, train = _scan(root / "train")
        test_classes, test = _scan(root / "test")
        missing = sorted(set(test_classes) - set(classes))
        if missing:
            raise PoolstrideError(
                f"image folder {str(path)!r}: test class {missing[0]!r} has no train folder"
            )
        remap = {i: classes.index(c) for i, c in enumerate(test_classes)}
        test = [(p, remap[c]) for p, c in test]
    else:
        if not 0 < test_fraction < 1:
            raise PoolstrideError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
        classes, samples = _scan(root)
        labels = np.array([c for _, c in samples])
        n_test = round(len(samples) * test_fraction)
        if n_test < len(classes) or len(samples) - n_test < len(classes):
            raise PoolstrideError(
                f"image folder {str(path)!r} has {len(samples)} images: too few to split "
                f"{len(classes)} classes into train and test"
            )
        test_idx = set(stratified_indices(labels, n_test, SPLIT_SEED).tolist())
        train = [s for i, s in enumerate(samples) if i not in test_idx]
        test = [s for i, s in enumerate(samples) if i in test_idx]

    common, grey = _probe([p for p, _ in train + test])
    size = _size_arg(image_size) or common
    x_train = _decode([p for p, _ in train], size, grey)
    x_test = _decode([p for p, _ in test], size, grey)
    x_train, x_test = standardize(x_train, x_test, inplace=True)
    return Dataset(
        name=name,
        x_train=x_train,
        y_train=torch.tensor([c for _, c in train], dtype=torch.int64),
        x_test=x_test,
        y_test=torch.tensor([c for _, c in test], dtype=torch.int64),
        num_classes=len(classes),
        input_shape=tuple(x_train.shape[1:]),
        class_names=tuple(classes),
        normalization=IMAGE_NORMALIZATION,
    )
