"""``load_dataset``: one entry point from a dataset name to a :class:`Dataset`."""

from __future__ import annotations

from pathlib import Path

from poolstride.data.dataset import Dataset, subsample_train
from poolstride.data.digits import load_digits_dataset
from poolstride.data.folder import load_folder
from poolstride.data.mnist1d import load_mnist1d
from poolstride.data.shapes2d import load_shapes2d
from poolstride.data.torchvision_sets import TORCHVISION_SETS, load_torchvision
from poolstride.errors import PoolstrideError, unknown

#: Dataset names accepted by :func:`load_dataset` (plus ``folder:PATH``).
DATASETS: tuple[str, ...] = ("mnist1d", "shapes2d", "digits", *TORCHVISION_SETS, "folder:PATH")

# Keyword options each loader accepts beyond the common ones (the rest is an error).
_OPTIONS = {
    "mnist1d": {
        "use_cache",
        "num_samples",
        "train_split",
        "final_seq_length",
        "shuffle_seq",
        "seed_data",
    },
    "shapes2d": {"image_size", "num_train", "num_test", "noise", "generator_seed", "use_cache"},
    "digits": set(),
    "folder": {"image_size", "test_fraction", "stream", "memory_cap"},
    **{name: set() for name in TORCHVISION_SETS},
}


def load_dataset(
    name: str = "mnist1d",
    *,
    data_dir: str | Path | None = None,
    download: bool = False,
    train_size: int | None = None,
    seed: int = 0,
    **options,
) -> Dataset:
    """Load a dataset fully into memory.

    Args:
        name: one of :data:`DATASETS`; ``folder:PATH`` loads a user's image folder.
        data_dir: where torchvision datasets live (default ``$POOLSTRIDE_DATA_DIR`` or
            ``~/.cache/poolstride/data``).
        download: let torchvision fetch missing files (needs internet). Without it, missing
            files raise a one-line :class:`PoolstrideError` saying what to do.
        train_size: keep a stratified subset of this many training examples (data-size
            studies); the test set is never subsampled.
        seed: picks the ``train_size`` subset. The data itself never depends on it: generated
            sets use fixed generator seeds and splits are fixed, so runs that differ only in
            seed see the same test set.
        **options: loader options — ``shapes2d``: image_size, num_train, num_test, noise,
            generator_seed; ``folder:PATH``: image_size (int or (H, W)), test_fraction,
            stream (read batches from the decoded cache), memory_cap (GB held in memory,
            default half the available memory; larger folders stream);
            ``mnist1d``: num_samples, train_split, final_seq_length, shuffle_seq, seed_data
            (the mnist1d generator's seed, default 42).

    Returns:
        A frozen :class:`Dataset` with float32 inputs ``(N, C, L)`` or ``(N, C, H, W)`` (image
        folders: :class:`~poolstride.data.standardized_images.StandardizedImages`, uint8
        pixels read as standardised float32) and int64 labels. How each set is normalised is stated in its module and in
        ``Dataset.normalization``.
    """
    if not isinstance(name, str):
        raise PoolstrideError(f"dataset name must be a string, got {name!r}")
    key = name.strip().lower()
    if key.startswith("folder:"):
        family, path = "folder", name.strip()[len("folder:") :]
        if not path:
            raise PoolstrideError("dataset 'folder:' needs a path, e.g. folder:/data/pets")
    elif key in _OPTIONS and key != "folder":
        family, path = key, None
    else:
        raise unknown("dataset", name, DATASETS)

    bad = sorted(set(options) - _OPTIONS[family])
    if bad:
        raise unknown(f"option for dataset {family!r}:", bad[0], _OPTIONS[family] or {"(none)"})

    if family == "mnist1d":
        if "seed_data" in options:
            options["seed"] = options.pop("seed_data")
        dataset = load_mnist1d(**options)
    elif family == "shapes2d":
        dataset = load_shapes2d(**options)
    elif family == "digits":
        dataset = load_digits_dataset()
    elif family == "folder":
        dataset = load_folder(path, name=f"folder:{path}", **options)
    else:
        dataset = load_torchvision(family, data_dir, download)
    return subsample_train(dataset, train_size, seed)
