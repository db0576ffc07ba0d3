"""Lazy re-exports for package ``__init__`` files (PEP 562).

A package lists ``{public name: module path}`` and gets a module ``__getattr__`` and
``__dir__`` that import the defining module on first access, so ``import poolstride.report``
does not import matplotlib until a report is written::

    __getattr__, __dir__ = lazy_exports(__name__, {"write_report": "poolstride.report.write"})
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping


def lazy_exports(
    package: str, names: Mapping[str, str], eager: tuple[str, ...] = ()
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package`` resolving ``names`` on first access.

    Args:
        package: the package's ``__name__`` (for the error message).
        names: public name -> absolute module path that defines it.
        eager: names already bound in the package (listed by ``__dir__``).
    """
    table = dict(names)

    def __getattr__(name: str) -> object:
        if name in table:
            return getattr(importlib.import_module(table[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted({*table, *eager})

    return __getattr__, __dir__
