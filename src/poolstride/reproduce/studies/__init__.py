"""One module per reproduced study, each defining ``STUDY`` (a
:class:`~poolstride.reproduce.study.Study`); :mod:`poolstride.reproduce.registry` lists them."""
