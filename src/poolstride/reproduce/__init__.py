"""Reproduce published pooling-vs-stride evidence, one command per study.

``poolstride reproduce NAME`` runs a study whose recipe is fixed in code
(:mod:`poolstride.reproduce.study`, one module per study under
:mod:`poolstride.reproduce.studies`, listed in :mod:`poolstride.reproduce.registry`),
writes each grid's usual run directory through :mod:`poolstride.comparison`, then a paper
table (:mod:`poolstride.reproduce.paper_table`): our number with its 95% CI next to the
published one, and whether the published claim held (:mod:`poolstride.reproduce.claims`).
"""
