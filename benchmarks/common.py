"""Shared settings of the benchmark scripts."""

from __future__ import annotations

#: every model tilestream runs block-wise, with the zoo quality used (None: default config)
MODELS: list[tuple[str, int | None]] = [
    ("bmshj2018-factorized", 1),
    ("bmshj2018-hyperprior", 1),
    ("mbt2018-mean", 1),
    ("mbt2018", 1),
    ("cheng2020-anchor", 1),
    ("cheng2020-attn", 1),
    ("cheng2020-anchor-checkerboard", None),
    ("elic2022-official", None),
]
