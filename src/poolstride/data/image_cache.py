"""The decoded-image cache: arrays decoded once, opened (memory-mapped) by every later load.

One entry per key under ``<cache_dir>/decoded/<key>/`` (``cache_dir`` is
``$POOLSTRIDE_CACHE_DIR``, else ``$XDG_CACHE_HOME/poolstride``, else ``~/.cache/poolstride``):
one ``.npy`` file per array and ``meta.json`` with the key, each array's shape, dtype and
CRC-32, and whatever the writer stores beside them (labels, statistics, notes).

Safe under concurrency and failure:

- an entry is written into a private temporary folder beside it and renamed into place in one
  step, so a reader sees a whole entry or none; two processes that build the same key at once
  both decode, the first rename wins and the other uses the winner's entry;
- an entry is used only if its ``meta.json`` parses, names the same key and format, and every
  array has the recorded shape, dtype and CRC-32 of its data; anything else (a truncated
  file, a flipped bit, an old format) is moved aside and rebuilt — never read as data;
- a cache that cannot be written (read-only home, full disk) is not an error: the arrays are
  built in memory and the next load builds them again;
- what a killed process leaves (a temporary folder) is deleted by the next build after a day.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from poolstride.data.dataset import cache_dir

#: Bumped when the entry layout or the decoding rules change: older entries are rebuilt.
FORMAT = 1
_CHUNK = 1 << 24  # bytes checksummed per read
#: A temporary entry older than this was left by a killed process (decoding takes minutes).
LEFTOVER_AGE_S = 24 * 3600


@dataclass
class CacheEntry:
    """Arrays of one entry (memory-mapped copy-on-write when ``mapped``, else read into
    memory), its ``meta``, where it lives (``path`` None when it could not be written) and
    whether this call built it."""

    arrays: dict[str, np.ndarray]
    meta: dict[str, Any]
    path: Path | None
    built: bool
    mapped: bool


#: ``fill(allocate) -> meta``: allocate(name, shape, dtype) returns an array to fill.
Filler = Callable[[Callable[[str, tuple, np.dtype], np.ndarray]], dict]


def entry_dir(key: str) -> Path:
    return cache_dir() / "decoded" / key


def checksum(array: np.ndarray, file: Path) -> int:
    """CRC-32 of an array's data bytes: of the array when in memory; of ``file`` from the
    array's offset when memory-mapped (plain reads: no page is mapped into the process)."""
    if not isinstance(array, np.memmap):
        return zlib.crc32(np.ascontiguousarray(array).reshape(-1).view(np.uint8))
    crc = 0
    with open(file, "rb") as f:
        f.seek(array.offset)
        while chunk := f.read(_CHUNK):
            crc = zlib.crc32(chunk, crc)
    return crc


def open_entry(key: str, *, mmap: bool | Callable[[int], bool]) -> CacheEntry | None:
    """The entry for ``key`` if present and whole, else None (a damaged one is moved aside).

    ``mmap``: memory-map the arrays (copy-on-write) instead of reading them into memory; a
    callable is asked with the entry's total array bytes (to stream what would not fit).
    """
    path = entry_dir(key)
    if not (path / "meta.json").is_file():
        return None
    try:
        meta = json.loads((path / "meta.json").read_text())
        if meta.get("format") != FORMAT or meta.get("key") != key:
            raise ValueError("stale entry")
        if callable(mmap):
            mmap = mmap(sum(array_bytes(info) for info in meta["arrays"].values()))
        arrays = {}
        for name, info in meta["arrays"].items():
            file = path / f"{name}.npy"
            array = np.load(file, mmap_mode="c" if mmap else None)
            if list(array.shape) != info["shape"] or str(array.dtype) != info["dtype"]:
                raise ValueError(f"{name}.npy does not match meta.json")
            if checksum(array, file) != info["crc32"]:
                raise ValueError(f"{name}.npy is damaged")
            arrays[name] = array
    except (OSError, ValueError, KeyError, TypeError, EOFError):
        _discard(path)
        return None
    return CacheEntry(arrays, meta, path, built=False, mapped=bool(mmap))


def build_entry(key: str, fill: Filler, *, mmap: bool) -> CacheEntry:
    """Build the entry for ``key`` with ``fill`` and publish it atomically; open it as
    :func:`open_entry` does. Without a writable cache the arrays are built in memory."""
    final = entry_dir(key)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        sweep(final.parent)
        tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=final.parent))
    except OSError:
        return build_entry_in_memory(fill)

    written: dict[str, np.ndarray] = {}

    def on_disk(name, shape, dtype):
        written[name] = np.lib.format.open_memmap(
            tmp / f"{name}.npy", mode="w+", dtype=dtype, shape=tuple(shape)
        )
        return written[name]

    try:
        meta = fill(on_disk)
        meta = {"format": FORMAT, "key": key, **meta, "arrays": {}}
        for name, array in written.items():
            array.flush()
            meta["arrays"][name] = {
                "shape": list(array.shape),
                "dtype": str(array.dtype),
                "crc32": checksum(array, tmp / f"{name}.npy"),
            }
        written.clear()  # close the maps before the rename
        (tmp / "meta.json").write_text(json.dumps(meta))
        try:
            os.rename(tmp, final)  # atomic; fails if another process published first
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    entry = open_entry(key, mmap=mmap)
    if entry is None:  # the published entry vanished or is damaged: rebuild in memory
        return build_entry_in_memory(fill)
    entry.built = True
    return entry


def build_entry_in_memory(fill: Filler) -> CacheEntry:
    """The arrays built by ``fill`` in memory, cached nowhere."""
    arrays: dict[str, np.ndarray] = {}

    def in_memory(name, shape, dtype):
        arrays[name] = np.empty(shape, dtype)
        return arrays[name]

    return CacheEntry(arrays, fill(in_memory), None, built=True, mapped=False)


def sweep(folder: Path, older_than_s: float = LEFTOVER_AGE_S) -> None:
    """Delete what killed processes left in ``folder``: temporary and moved-aside entries
    (names starting with a dot) untouched for ``older_than_s`` seconds."""
    now = time.time()
    for path in folder.glob(".*"):
        try:
            if now - path.stat().st_mtime > older_than_s:
                shutil.rmtree(path, ignore_errors=True)
        except OSError:
            pass


def array_bytes(info: dict) -> int:
    """Bytes of an array described in ``meta.json`` (``shape`` and ``dtype``)."""
    return int(np.prod(info["shape"], dtype=np.int64)) * np.dtype(info["dtype"]).itemsize


def _discard(path: Path) -> None:
    """Move a damaged entry aside (atomically), then delete it; readers never see half."""
    aside = path.with_name(f".{path.name}.stale.{os.getpid()}")
    try:
        os.rename(path, aside)
    except OSError:
        return
    shutil.rmtree(aside, ignore_errors=True)
