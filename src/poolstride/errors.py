"""The one error type users see.

Every bad input (unknown kind, impossible geometry, malformed spec, missing folder) raises
:class:`PoolstrideError` with a one-line message that names the offending value and what
would be valid. The CLI turns it into exit code 2 with no traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class PoolstrideError(ValueError):
    """A user-facing error with a one-line message (subclass of ``ValueError``)."""


def closest(name: str, valid: Iterable[str]) -> str | None:
    """Return the closest valid name to ``name`` (for "did you mean" hints), or None."""
    matches = difflib.get_close_matches(str(name), list(valid), n=1, cutoff=0.5)
    return matches[0] if matches else None


def unknown(what: str, name: str, valid: Iterable[str]) -> PoolstrideError:
    """Build the standard "unknown X" error: names the value, the valid ones, the closest."""
    valid = sorted(valid)
    hint = closest(name, valid)
    msg = f"unknown {what} {name!r}; valid: {', '.join(valid)}"
    if hint:
        msg += f" (did you mean {hint!r}?)"
    return PoolstrideError(msg)
