"""``StandardizedImages``: images stored as decoded (uint8, or float32 in [0, 1]), read as
standardised float32 batches.

An image folder is held as its decoded pixels — one byte per value for 8-bit images, a
quarter of the float32 tensor it used to be — and standardised per batch when read::

    images[idx] = (stored[idx] / scale - mean_c) / std_c      -> float32 (..., C, *spatial)

For uint8 storage the right side is a table of 256 values per channel, computed once on the
CPU with exactly the float32 operations :func:`poolstride.data.dataset.standardize` applies
(``v / 255`` as numpy divides, then ``- mean``, ``/ std``), so a batch is bit-identical to the
same rows of a fully standardised float32 tensor, on any device. Float storage (16-bit,
float and transparent images) applies ``(x - mean) / std`` to the batch.

Indexing reads the first axis only (an int, a slice, an index tensor of any shape): the
training loops index rows, never pixels. Where the pixels live decides the cost of a read:

- **in memory** (:meth:`to`): the stored tensor is copied to the device once; a batch is a
  gather there;
- **streamed** (``streamed=True``): the stored tensor stays where it is (a memory-mapped
  cache file), and each batch is gathered on the host and copied to the device.
"""

from __future__ import annotations

import numpy as np
import torch


class StandardizedImages:
    """Stored images read as standardised float32 (see the module docstring).

    Args:
        stored: ``(N, C, *spatial)`` uint8 (``scale`` 255) or float32 (``scale`` 1).
        mean, std: per-channel float32 constants, shape ``(C,)``.
        streamed: keep ``stored`` where it is and copy each batch to ``device``.
        device: where batches are returned (default: where ``stored`` is).
        rows: an index into ``stored`` (a subset), applied before every read.
    """

    def __init__(
        self,
        stored: torch.Tensor,
        mean: torch.Tensor,
        std: torch.Tensor,
        *,
        streamed: bool = False,
        device: torch.device | str | None = None,
        rows: torch.Tensor | None = None,
    ) -> None:
        if stored.dtype not in (torch.uint8, torch.float32):
            raise TypeError(f"stored images must be uint8 or float32, got {stored.dtype}")
        self.stored = stored
        self.mean = mean.to(torch.float32).reshape(-1)
        self.std = std.to(torch.float32).reshape(-1)
        self.streamed = streamed
        self.device = torch.device(device) if device is not None else stored.device
        self.rows = rows
        spatial = [1] * (stored.ndim - 2)
        if stored.dtype == torch.uint8:
            # today's per-element arithmetic, once per (channel, value), on the CPU
            values = torch.from_numpy(np.arange(256, dtype=np.float32) / np.float32(255.0))
            table = (values[None, :] - self.mean[:, None]) / self.std[:, None]
            self._table = table.reshape(-1).to(self.device)
            offsets = torch.arange(len(self.mean), dtype=torch.int32) * 256
            self._offsets = offsets.view(-1, *spatial).to(self.device)
        else:
            self._mean = self.mean.view(-1, *spatial).to(self.device)
            self._std = self.std.view(-1, *spatial).to(self.device)

    @property
    def shape(self) -> torch.Size:
        n = len(self.rows) if self.rows is not None else self.stored.shape[0]
        return torch.Size((n, *self.stored.shape[1:]))

    @property
    def ndim(self) -> int:
        return self.stored.ndim

    @property
    def dtype(self) -> torch.dtype:
        """What a read returns (float32), not how the pixels are stored."""
        return torch.float32

    @property
    def nbytes(self) -> int:
        """Bytes of the stored pixels this view reads."""
        return self.shape.numel() * self.stored.element_size()

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        where = "streamed from " if self.streamed else ""
        return (
            f"StandardizedImages(shape={tuple(self.shape)}, stored={self.stored.dtype}, "
            f"{where}{self.stored.device} -> {self.device})"
        )

    def raw(self, key) -> torch.Tensor:
        """The stored pixels of rows ``key`` (uint8 or float32), on the storage's device."""
        if isinstance(key, torch.Tensor) and key.device != self.stored.device:
            key = key.to(self.stored.device)
        if self.rows is not None:
            key = self.rows[key]
        return self.stored[key]

    def __getitem__(self, key) -> torch.Tensor:
        batch = self.raw(key).to(self.device, non_blocking=True)
        if batch.dtype == torch.uint8:  # table row c, column v; int32 halves the temporaries
            where = batch.to(torch.int32).add_(self._offsets)
            return self._table.index_select(0, where.reshape(-1)).view(where.shape)
        return (batch - self._mean) / self._std

    def standardized(self) -> torch.Tensor:
        """Every row as one float32 tensor (4x the stored bytes for uint8)."""
        return self[:]

    def to(self, device: torch.device | str) -> StandardizedImages:
        """The same images read on ``device``: in memory there, or streamed to it."""
        device = torch.device(device)
        if self.streamed:
            return StandardizedImages(
                self.stored, self.mean, self.std, streamed=True, device=device, rows=self.rows
            )
        stored = self.stored if self.rows is None else self.stored[self.rows]
        return StandardizedImages(stored.to(device), self.mean, self.std, device=device)

    def take(self, idx: torch.Tensor) -> StandardizedImages:
        """Rows ``idx`` as a new view: copied when in memory, an index when streamed."""
        idx = torch.as_tensor(idx, dtype=torch.int64)
        if self.streamed:
            rows = idx if self.rows is None else self.rows[idx]
            return StandardizedImages(
                self.stored, self.mean, self.std, streamed=True, device=self.device, rows=rows
            )
        return StandardizedImages(self.raw(idx), self.mean, self.std, device=self.device)
