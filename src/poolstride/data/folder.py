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
split's mean/std. Scaling follows each image's own depth, never clipping: 8-bit images are
divided by 255, 16-bit ones (PIL modes ``I;16*``, and ``I`` when every value fits in 16 bits,
as 16-bit PNGs decode) by 65535, 32-bit integer ones by 2**32 - 1, and float images (mode
``F``) are kept when they lie in [0, 1], else mapped from their own [min, max] to [0, 1].

Alpha rule: an image with transparency (``RGBA``, ``LA``, ``PA``, or a palette image with a
transparent colour) is composited onto black — each colour is multiplied by its alpha — and
the alpha channel dropped, so a fully transparent pixel is 0 whatever colour it stores.
Palette images (``P``) are expanded through their palette.

Folders are validated as data, not just as files (what :func:`load_folder` refuses or reports):

- symbolic links are followed, but a directory is entered at most once (a link loop cannot
  repeat files) and a file reached twice (two links to it, or a link and the file) counts
  once: the duplicates are dropped and reported;
- at least two classes (a one-class folder would score 100% "accuracy");
- images present in both the training and the test split (same decoded pixels) are counted
  and reported — a leak the numbers cannot show;
- the per-class counts of both splits are reported, and a class imbalance above
  :data:`IMBALANCE_RATIO` (largest / smallest training class) is flagged.

Reports are collected in ``Dataset.notes`` and printed once on stderr (``note:`` /
``warning:`` lines) by the process that loads the folder first.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import torch

from poolstride.data.dataset import IMAGE_NORMALIZATION, Dataset, standardize, stratified_indices
from poolstride.errors import PoolstrideError

SPLIT_SEED = 0
#: Largest / smallest training class above this ratio is reported as an imbalance.
IMBALANCE_RATIO = 3.0
IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
_GREY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}
_EIGHT_BIT = {"1", "L", "P", "RGB", "CMYK", "YCbCr", "LAB", "HSV"}


def _scan(root: Path, seen: set[str]) -> tuple[list[str], list[tuple[str, int]], int]:
    """Classes (sorted folder names), ``(file, class index)`` samples under ``root`` and how
    many files were skipped because they had been reached already (``seen``: resolved paths)."""
    try:
        classes = sorted(e.name for e in os.scandir(root) if e.is_dir())
    except OSError as exc:
        raise PoolstrideError(f"cannot read image folder {str(root)!r}: {exc.strerror}") from None
    if not classes:
        raise PoolstrideError(
            f"image folder {str(root)!r} has no class sub-folders; expected {root}/<class>/<image>"
        )
    samples: list[tuple[str, int]] = []
    repeats = 0
    for index, name in enumerate(classes):
        files, skipped = _images_under(root / name, seen)
        repeats += skipped
        if not files:
            raise PoolstrideError(
                f"image folder {str(root)!r}: class folder {name!r} has no images "
                f"(extensions {', '.join(IMG_EXTENSIONS)})"
            )
        samples += [(f, index) for f in files]
    return classes, samples, repeats


def _images_under(folder: Path, seen: set[str]) -> tuple[list[str], int]:
    """Image files under ``folder`` in sorted order, following each directory at most once
    (resolved paths), skipping files already in ``seen``; returns them and the skipped count."""
    entered: set[str] = set()
    found: list[tuple[str, list[str]]] = []
    for here, dirs, names in os.walk(folder, followlinks=True):
        real = os.path.realpath(here)
        if real in entered:  # a link loop or a second link to the same directory
            dirs[:] = []
            continue
        entered.add(real)
        dirs[:] = [d for d in dirs if os.path.realpath(os.path.join(here, d)) not in entered]
        found.append((here, names))
    files, skipped = [], 0
    for here, names in sorted(found):
        for name in sorted(names):
            if not name.lower().endswith(IMG_EXTENSIONS):
                continue
            path = os.path.join(here, name)
            real = os.path.realpath(path)
            if real in seen or not os.path.isfile(real):
                skipped += real in seen
                continue
            seen.add(real)
            files.append(path)
    return files, skipped


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


def _decode(paths: list[str], size: tuple[int, int], grey: bool) -> torch.Tensor:
    # imported on use: only the folder loader decodes images
    from PIL import Image

    channels = 1 if grey else 3
    out = np.empty((len(paths), size[0], size[1], channels), dtype=np.float32)
    for i, path in enumerate(paths):
        try:
            with Image.open(path) as img:
                out[i] = _pixels(img, size, grey)
        except OSError as exc:
            raise PoolstrideError(f"cannot read image {path!r}: {exc}") from None
    return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()


def _pixels(img, size: tuple[int, int], grey: bool) -> np.ndarray:
    """One image as float32 ``(H, W, C)`` in [0, 1] (see the module's scaling and alpha rules)."""
    from PIL import Image

    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        rgba = np.asarray(img.convert("RGBA"), dtype=np.float32) / 255.0
        colour = rgba[..., :3] * rgba[..., 3:]  # composited onto black
        if grey:  # ITU-R 601-2 luma, PIL's own "L" rule
            colour = colour @ np.array([[0.299], [0.587], [0.114]], dtype=np.float32)
        return _resized(colour, size)
    if img.mode in _EIGHT_BIT or img.mode not in _GREY_MODES:
        img = img.convert("L" if grey else "RGB")
        if img.size != (size[1], size[0]):  # PIL sizes are (W, H)
            img = img.resize((size[1], size[0]), Image.Resampling.BILINEAR)
        arr = np.asarray(img, dtype=np.float32) / 255.0
        return arr[..., None] if grey else arr
    # 16-bit, 32-bit integer and float grey-scale: scaled by depth, never clipped
    arr = np.asarray(img, dtype=np.float64)
    if img.mode.startswith("I;16"):
        arr = arr / 65535.0
    elif img.mode == "I":
        low, high = float(arr.min(initial=0)), float(arr.max(initial=0))
        if low < 0:
            arr = arr - low
            high -= low
        arr = arr / (65535.0 if high <= 65535 else 2.0**32 - 1)
    else:  # "F"
        low, high = float(arr.min(initial=0)), float(arr.max(initial=0))
        if not np.isfinite(arr).all():
            raise PoolstrideError("float image holds NaN or infinite pixels")
        if low < 0 or high > 1:
            arr = (arr - low) / (high - low) if high > low else np.zeros_like(arr)
    arr = arr.astype(np.float32)[..., None]
    if not grey:
        arr = np.repeat(arr, 3, axis=2)
    return _resized(arr, size)


def _resized(arr: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of a float ``(H, W, C)`` array, channel by channel (PIL mode ``F``)."""
    from PIL import Image

    if arr.shape[:2] == size:
        return arr
    planes = [
        np.asarray(
            Image.fromarray(np.ascontiguousarray(arr[..., c]), "F").resize(
                (size[1], size[0]), Image.Resampling.BILINEAR
            )
        )
        for c in range(arr.shape[2])
    ]
    return np.stack(planes, axis=2)


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


def _digests(x: torch.Tensor) -> list[bytes]:
    """A content hash of each decoded image (same pixels, same hash)."""
    arr = x.numpy()
    return [hashlib.blake2b(arr[i].tobytes(), digest_size=16).digest() for i in range(len(arr))]


def _counts(labels: list[int], classes: list[str]) -> list[int]:
    return np.bincount(np.asarray(labels, dtype=np.int64), minlength=len(classes)).tolist()


def _check_data(name, classes, train, test, x_train, x_test, repeats) -> list[str]:
    """What the user should know about this folder as data: ``note:``/``warning:`` lines."""
    n_train = _counts([c for _, c in train], classes)
    n_test = _counts([c for _, c in test], classes)
    notes = [
        f"note: {name}: {len(classes)} classes, {len(train)} train / {len(test)} test images: "
        + ", ".join(f"{c} {a}/{b}" for c, a, b in zip(classes, n_train, n_test))
    ]
    if repeats:
        notes.append(
            f"warning: {name}: {repeats} file(s) reached twice through symbolic links were "
            "counted once"
        )
    in_train = set(_digests(x_train))
    shared = sum(d in in_train for d in _digests(x_test))
    if shared:
        notes.append(
            f"warning: {name}: {shared} of {len(test)} test image(s) also appear in the "
            "training split (same pixels): test accuracy is inflated; remove the duplicates"
        )
    smallest, largest = min(n_train), max(n_train)
    if smallest == 0 or largest / smallest > IMBALANCE_RATIO:
        small, large = classes[n_train.index(smallest)], classes[n_train.index(largest)]
        ratio = "no" if smallest == 0 else f"{largest / smallest:.1f}x"
        notes.append(
            f"warning: {name}: class imbalance: {large!r} has {largest} training images, "
            f"{small!r} {smallest} ({ratio}, above {IMBALANCE_RATIO:g}x); accuracy alone "
            "can mislead"
        )
    return notes


def _tell(notes: list[str]) -> None:
    """Print the notes once, from the process that loads first (not from pool workers)."""
    if multiprocessing.parent_process() is None:
        for line in notes:
            print(line, file=sys.stderr)


def load_folder(
    path: str | Path, *, image_size=None, test_fraction: float = 0.2, name: str | None = None
) -> Dataset:
    """Load an image folder as ``(N, C, H, W)`` tensors (C = 1 or 3)."""
    root = Path(path).expanduser()
    name = name or f"folder:{path}"
    layout = (
        "expected PATH/train/<class>/<image> and PATH/test/<class>/<image>, or PATH/<class>/<image>"
    )
    if root.exists() and not root.is_dir():
        raise PoolstrideError(f"image folder {str(path)!r} is a file, not a folder; {layout}")
    if not root.is_dir():
        raise PoolstrideError(f"image folder {str(path)!r} does not exist; {layout}")
    seen: set[str] = set()
    if (root / "train").is_dir() and (root / "test").is_dir():
        classes, train, repeats = _scan(root / "train", seen)
        test_classes, test, test_repeats = _scan(root / "test", set())
        repeats += test_repeats
        missing = sorted(set(test_classes) - set(classes))
        if missing:
            raise PoolstrideError(
                f"image folder {str(path)!r}: test class {missing[0]!r} has no train folder"
            )
        remap = {i: classes.index(c) for i, c in enumerate(test_classes)}
        test = [(p, remap[c]) for p, c in test]
        _two_classes(path, classes)
    else:
        if not 0 < test_fraction < 1:
            raise PoolstrideError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
        classes, samples, repeats = _scan(root, seen)
        _two_classes(path, classes)
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
    notes = _check_data(name, classes, train, test, x_train, x_test, repeats)
    _tell(notes)
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
        notes=tuple(notes),
    )


def _two_classes(path, classes: list[str]) -> None:
    if len(classes) < 2:
        raise PoolstrideError(
            f"image folder {str(path)!r} has one class ({classes[0]!r}); a classifier needs at "
            "least two class folders (a one-class folder scores 100% without learning anything)"
        )
