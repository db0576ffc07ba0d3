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

#: Keyword options each dataset family's loader accepts beyond the common ones (the rest is
#: an error); ``folder`` is every ``folder:PATH``.
LOADER_OPTIONS: dict[str, frozenset[str]] = {
    family: frozenset(names)
    for family, names in {
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
    }.items()
}

#: The value each loader option takes: ``int`` (a positive count), ``"seed"`` (an integer
#: >= 0), ``"fraction"`` (strictly between 0 and 1), ``float`` (>= 0), ``bool``; options
#: not listed here (``image_size``, ``stream``, ``memory_cap``, ``use_cache``) are checked
#: by their loaders.
OPTION_KINDS: dict[str, object] = {
    "num_samples": int,
    "final_seq_length": int,
    "num_train": int,
    "num_test": int,
    "train_split": "fraction",
    "test_fraction": "fraction",
    "noise": float,
    "seed_data": "seed",
    "generator_seed": "seed",
    "shuffle_seq": bool,
}


def dataset_family(name: str) -> str:
    """The loader family of a dataset name: ``"folder"`` for ``folder:PATH``, else the
    lower-cased name (``"mnist1d"``); an unknown name raises :class:`PoolstrideError`."""
    if not isinstance(name, str):
        raise PoolstrideError(f"dataset name must be a string, got {name!r}")
    key = name.strip().lower()
    if key.startswith("folder:"):
        return "folder"
    if key in LOADER_OPTIONS and key != "folder":
        return key
    raise unknown("dataset", name, DATASETS)


def option_value(key: str, text: object) -> object:
    """``text`` (``"20000"``, ``"0.8"``, ``"true"`` or a number) as the value loader option
    ``key`` takes (see :data:`OPTION_KINDS`); a bad value raises one line naming it."""
    kind = OPTION_KINDS.get(key)
    raw = text.strip() if isinstance(text, str) else text
    if kind is bool:
        words = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
        value = raw if isinstance(raw, bool) else words.get(str(raw).lower())
        if value is None:
            raise PoolstrideError(f"dataset option {key} must be true or false, got {text!r}")
        return value
    if kind in (int, "seed"):
        try:
            value = int(raw) if not isinstance(raw, (bool, float)) else None
        except (TypeError, ValueError):
            value = None
        low = 1 if kind is int else 0
        if value is None or value < low:
            what = "a positive integer" if kind is int else "an integer >= 0"
            raise PoolstrideError(f"dataset option {key} must be {what}, got {text!r}")
        return value
    if kind in (float, "fraction"):
        try:
            value = float(raw) if not isinstance(raw, bool) else None
        except (TypeError, ValueError):
            value = None
        valid = value is not None and (0 < value < 1 if kind == "fraction" else 0 <= value)
        if not valid or value == float("inf"):
            what = "a number strictly between 0 and 1" if kind == "fraction" else "a number >= 0"
            raise PoolstrideError(f"dataset option {key} must be {what}, got {text!r}")
        return value
    return raw


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
    family, path = dataset_family(name), None
    if family == "folder":
        path = name.strip()[len("folder:") :]
        if not path:
            raise PoolstrideError("dataset 'folder:' needs a path, e.g. folder:/data/pets")

    valid = LOADER_OPTIONS[family]
    bad = sorted(set(options) - valid)
    if bad:
        raise unknown(f"option for dataset {family!r}:", bad[0], valid or {"(none)"})

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
