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

Decoded once (:mod:`poolstride.data.image_cache`): the decoded pixels, the split's statistics
and the notes are cached under ``<cache_dir>/decoded/<key>``, the key being a hash of the
file list (paths, labels, sizes, modification times), ``image_size``, the PIL version and
the cache format — any change to a file, the split or the settings decodes again. Pixels are
stored as uint8 when every image is 8-bit without transparency (else float32 in [0, 1]) and
standardised per batch as they are read (:class:`~poolstride.data.standardized_images.
StandardizedImages`): the memory held is that of the images. The statistics are exact
(float64 over the decoded float32 values, rounded to float32). One line on stderr says how
long decoding (or opening the cache) took and where the cache is. Folders larger than the
memory cap (:mod:`poolstride.data.memory_cap`), or any folder with ``stream=True``, are read
batch by batch from the memory-mapped cache instead of held in memory.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch

from poolstride.data.dataset import IMAGE_NORMALIZATION, Dataset, stratified_indices
from poolstride.data.image_cache import FORMAT, CacheEntry, build_entry, open_entry
from poolstride.data.memory_cap import streams
from poolstride.data.standardized_images import StandardizedImages
from poolstride.errors import PoolstrideError

SPLIT_SEED = 0
#: Largest / smallest training class above this ratio is reported as an imbalance.
IMBALANCE_RATIO = 3.0
IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
_GREY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}
_EIGHT_BIT = {"1", "L", "P", "RGB", "CMYK", "YCbCr", "LAB", "HSV"}
_ALPHA_MODES = {"RGBA", "LA", "PA", "La", "RGBa"}
_ROWS_PER_CHUNK_VALUES = 1 << 24  # pixel values per chunk when computing statistics


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
    found: list[str] = []
    for here, dirs, _ in os.walk(folder, followlinks=True):
        real = os.path.realpath(here)
        if real in entered:  # a link loop or a second link to the same directory
            dirs[:] = []
            continue
        entered.add(real)
        dirs[:] = [d for d in dirs if os.path.realpath(os.path.join(here, d)) not in entered]
        found.append(here)
    files, skipped = [], 0
    for here in sorted(found):
        real_here = os.path.realpath(here)
        with os.scandir(here) as listing:  # entries know their type: no stat per file
            entries = sorted(
                (e for e in listing if e.name.lower().endswith(IMG_EXTENSIONS)),
                key=lambda e: e.name,
            )
        for entry in entries:
            if entry.is_symlink():  # resolved in full; a plain file's real path is its folder's
                real = os.path.realpath(entry.path)
                regular = os.path.isfile(real)
            else:
                real, regular = f"{real_here}{os.sep}{entry.name}", entry.is_file()
            if real in seen or not regular:
                skipped += real in seen
                continue
            seen.add(real)
            files.append(entry.path)
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


def _decode_into(out: np.ndarray, paths: list[str], size: tuple[int, int], grey: bool) -> list:
    """Decode ``paths`` into ``out`` ``(N, C, H, W)`` (uint8: 8-bit pixels; float32: [0, 1]);
    return a content hash of each image (same pixels, same hash)."""
    # imported on use: only the folder loader decodes images
    from PIL import Image

    pixels = _bytes if out.dtype == np.uint8 else _pixels
    digests = []
    for i, path in enumerate(paths):
        try:
            with Image.open(path) as img:
                out[i] = pixels(img, size, grey).transpose(2, 0, 1)
        except OSError as exc:
            raise PoolstrideError(f"cannot read image {path!r}: {exc}") from None
        digests.append(hashlib.blake2b(out[i].tobytes(), digest_size=16).hexdigest())
    return digests


def _stored_as_bytes(img) -> bool:
    """Whether ``img`` decodes to 8-bit values (no transparency, no 16-bit/float depth)."""
    if img.mode in _ALPHA_MODES or (img.mode == "P" and "transparency" in img.info):
        return False
    return img.mode in _EIGHT_BIT or img.mode not in _GREY_MODES


def _bytes(img, size: tuple[int, int], grey: bool) -> np.ndarray:
    """An 8-bit image as uint8 ``(H, W, C)``: converted to L or RGB, resized (bilinear)."""
    from PIL import Image

    img = img.convert("L" if grey else "RGB")
    if img.size != (size[1], size[0]):  # PIL sizes are (W, H)
        img = img.resize((size[1], size[0]), Image.Resampling.BILINEAR)
    arr = np.asarray(img)
    return arr[..., None] if grey else arr


def _pixels(img, size: tuple[int, int], grey: bool) -> np.ndarray:
    """One image as float32 ``(H, W, C)`` in [0, 1] (see the module's scaling and alpha rules)."""
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        rgba = np.asarray(img.convert("RGBA"), dtype=np.float32) / 255.0
        colour = rgba[..., :3] * rgba[..., 3:]  # composited onto black
        if grey:  # ITU-R 601-2 luma, PIL's own "L" rule
            colour = colour @ np.array([[0.299], [0.587], [0.114]], dtype=np.float32)
        return _resized(colour, size)
    if img.mode in _EIGHT_BIT or img.mode not in _GREY_MODES:
        return _bytes(img, size, grey).astype(np.float32) / np.float32(255.0)
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


def _probe(paths: list[str]) -> tuple[tuple[int, int], bool, bool]:
    """Most common (H, W), whether every image is grey-scale and whether every one is 8-bit
    without transparency (reads headers only)."""
    # imported on use: only the folder loader decodes images
    from PIL import Image

    sizes: Counter = Counter()
    grey = eight_bit = True
    for path in paths:
        try:
            with Image.open(path) as img:
                sizes[(img.size[1], img.size[0])] += 1
                grey &= img.mode in _GREY_MODES
                eight_bit &= _stored_as_bytes(img)
        except OSError as exc:
            raise PoolstrideError(f"cannot read image {path!r}: {exc}") from exc
    return sizes.most_common(1)[0][0], grey, eight_bit


def _channel_stats(x: np.ndarray) -> tuple[list[float], list[float]]:
    """Per-channel mean and unbiased std of ``x`` ``(N, C, H, W)`` as read (uint8 ``v`` as
    ``float32(v / 255)``), exact in float64 and rounded to float32, read in chunks."""
    channels = x.shape[1]
    rows = max(1, _ROWS_PER_CHUNK_VALUES // max(1, x[0].size))
    if x.dtype == np.uint8:
        counts = np.zeros((channels, 256), dtype=np.int64)
        for start in range(0, len(x), rows):
            chunk = x[start : start + rows]
            for c in range(channels):
                counts[c] += np.bincount(chunk[:, c].reshape(-1), minlength=256)
        values = (np.arange(256, dtype=np.float32) / np.float32(255.0)).astype(np.float64)
        n = counts.sum(1)
        mean = counts @ values / n
        var = (counts * (values[None, :] - mean[:, None]) ** 2).sum(1) / np.maximum(n - 1, 1)
    else:
        total = np.zeros(channels)
        for start in range(0, len(x), rows):
            total += x[start : start + rows].sum(axis=(0, 2, 3), dtype=np.float64)
        n = x.size // channels
        mean = total / n
        sq = np.zeros(channels)
        for start in range(0, len(x), rows):
            dev = x[start : start + rows].astype(np.float64) - mean[None, :, None, None]
            sq += (dev**2).sum(axis=(0, 2, 3))
        var = sq / max(n - 1, 1)
    std = np.maximum(np.sqrt(var).astype(np.float32), np.float32(1e-8))
    return mean.astype(np.float32).tolist(), std.tolist()


def _counts(labels: list[int], classes: list[str]) -> list[int]:
    return np.bincount(np.asarray(labels, dtype=np.int64), minlength=len(classes)).tolist()


def _check_data(name, classes, train, test, shared, repeats) -> list[str]:
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
    path: str | Path,
    *,
    image_size=None,
    test_fraction: float = 0.2,
    name: str | None = None,
    stream: bool = False,
    memory_cap: float | None = None,
) -> Dataset:
    """Load an image folder as ``(N, C, H, W)`` images (C = 1 or 3), decoded once into the
    cache; held in memory, or streamed from the cache when ``stream`` or when larger than
    ``memory_cap`` GB (default: half the available memory)."""
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

    size = _size_arg(image_size)
    key = _cache_key(train, test, size)
    started = time.perf_counter()
    entry = open_entry(key, mmap=lambda nbytes: streams(nbytes, stream, memory_cap))
    if entry is None:
        common, grey, eight_bit = _probe([p for p, _ in train + test])
        size = size or common
        shape = (1 if grey else 3, *size)
        dtype = np.dtype(np.uint8 if eight_bit else np.float32)
        nbytes = (len(train) + len(test)) * int(np.prod(shape)) * dtype.itemsize
        entry = build_entry(
            key,
            lambda allocate: _decode_split(allocate, train, test, shape, dtype),
            mmap=streams(nbytes, stream, memory_cap),
        )
    seconds = time.perf_counter() - started
    notes = _check_data(name, classes, train, test, entry.meta["shared"], repeats)
    _tell([*notes, _cache_line(name, entry, len(train) + len(test), seconds)])
    mean = torch.tensor(entry.meta["mean"], dtype=torch.float32)
    std = torch.tensor(entry.meta["std"], dtype=torch.float32)
    x_train, x_test = (
        StandardizedImages(torch.from_numpy(entry.arrays[split]), mean, std, streamed=entry.mapped)
        for split in ("train", "test")
    )
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


def _cache_key(train, test, size: tuple[int, int] | None) -> str:
    """Hash of everything the decoded arrays depend on: each file (path, label, size,
    modification time) in split order, the requested size, PIL's version, the rules' format."""
    import PIL  # imported on use: only the folder loader decodes images

    digest = hashlib.sha256(json.dumps([FORMAT, PIL.__version__, size]).encode())
    for split in (train, test):
        for path, label in split:
            try:
                info = os.stat(path)
            except OSError as exc:
                raise PoolstrideError(f"cannot read image {path!r}: {exc.strerror}") from None
            digest.update(json.dumps([path, label, info.st_size, info.st_mtime_ns]).encode())
        digest.update(b"|")  # where train ends
    return digest.hexdigest()[:32]


def _decode_split(allocate, train, test, shape: tuple[int, ...], dtype: np.dtype) -> dict:
    """Decode both splits into arrays from ``allocate``; return what ``meta.json`` keeps:
    the training split's per-channel mean/std, how many test images repeat a training image."""
    size, grey = shape[1:], shape[0] == 1
    x_train = allocate("train", (len(train), *shape), dtype)
    x_test = allocate("test", (len(test), *shape), dtype)
    in_train = set(_decode_into(x_train, [p for p, _ in train], size, grey))
    shared = sum(d in in_train for d in _decode_into(x_test, [p for p, _ in test], size, grey))
    mean, std = _channel_stats(x_train)
    return {"mean": mean, "std": std, "shared": shared}


def _cache_line(name: str, entry: CacheEntry, images: int, seconds: float) -> str:
    """One line: decoded (or opened) how many images, how fast, where, and how held."""
    stored = next(iter(entry.arrays.values())).dtype
    mb = sum(a.nbytes for a in entry.arrays.values()) / 1e6
    held = "streamed from the cache" if entry.mapped else "held in memory"
    where = f"cache {entry.path}" if entry.path else "no cache (cache folder not writable)"
    done = "decoded" if entry.built else "opened the decoded cache of"
    return (
        f"note: {name}: {done} {images} images in {seconds:.2f} s ({stored}, {mb:.1f} MB, "
        f"{held}); {where}"
    )


def _two_classes(path, classes: list[str]) -> None:
    if len(classes) < 2:
        raise PoolstrideError(
            f"image folder {str(path)!r} has one class ({classes[0]!r}); a classifier needs at "
            "least two class folders (a one-class folder scores 100% without learning anything)"
        )
