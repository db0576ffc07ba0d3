"""Light, batched, on-device augmentation: random shift (crop-style) and horizontal flip.

Both work on a whole batch at once with one random draw per sample, so they cost a couple of
tensor ops per step (no Python loop over samples, no host round trip).

- :func:`random_shift`: each sample moves by an integer offset in ``[-s, s]`` along every
  spatial axis (independently), the vacated border filled with zeros — the same as padding by
  ``s`` and cropping a random window of the original size (the classic "pad 4, crop 32").
- :func:`random_flip`: each sample is mirrored along its last axis with probability 1/2.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def random_shift(
    x: torch.Tensor, max_shift: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Shift each sample of ``x`` ``(N, C, *spatial)`` by random offsets in ``[-s, s]``."""
    if max_shift <= 0:
        return x
    n, c = x.shape[:2]
    spatial = x.shape[2:]
    s = max_shift
    # pad every spatial axis by s on both sides (F.pad takes the last axis first)
    out = F.pad(x, [s] * (2 * len(spatial)))
    for axis, size in enumerate(spatial):
        dim = 2 + axis
        start = torch.randint(0, 2 * s + 1, (n,), device=x.device, generator=generator)
        index = start[:, None] + torch.arange(size, device=x.device)[None, :]  # (N, size)
        shape = [n] + [1] * (out.ndim - 1)
        shape[dim] = size
        index = index.view(shape).expand(
            *[out.shape[d] if d not in (0, dim) else shape[d] for d in range(out.ndim)]
        )
        out = torch.gather(out, dim, index)
    return out


def random_flip(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Mirror each sample along the last axis with probability 1/2."""
    flip = torch.rand(x.shape[0], device=x.device, generator=generator) < 0.5
    return torch.where(flip.view(-1, *([1] * (x.ndim - 1))), x.flip(-1), x)


def make_augment(kind: str, max_shift: int, generator: torch.Generator | None = None):
    """Return ``f(batch) -> batch`` for ``kind`` in none, shift, flip, shift+flip (or None)."""
    parts = [] if kind == "none" else kind.split("+")
    if not parts:
        return None

    def augment(x: torch.Tensor) -> torch.Tensor:
        if "shift" in parts:
            x = random_shift(x, max_shift, generator)
        if "flip" in parts:
            x = random_flip(x, generator)
        return x

    return augment
