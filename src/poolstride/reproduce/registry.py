"""``STUDIES``: every reproducible study by name (``poolstride reproduce NAME``).

Adding a study: write ``studies/<module>.py`` defining ``STUDY`` (a
:class:`~poolstride.reproduce.study.Study`) and add it to the tuple below.
"""

from __future__ import annotations

from poolstride.errors import unknown
from poolstride.reproduce.studies import (
    allcnn,
    antialias,
    fishnet_shortcut,
    mnist1d_pooling,
    resnet_stem,
)
from poolstride.reproduce.study import Study

STUDIES: dict[str, Study] = {
    module.STUDY.name: module.STUDY
    for module in (
        mnist1d_pooling,
        allcnn,
        antialias,
        resnet_stem,
        fishnet_shortcut,
    )
}


def get_study(name: str) -> Study:
    """The study called ``name``; an unknown name is a one-line error listing the valid ones."""
    if name not in STUDIES:
        raise unknown("study", name, tuple(STUDIES))
    return STUDIES[name]


__all__ = ["STUDIES", "get_study"]
