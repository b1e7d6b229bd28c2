"""The networks of the benchmarks and the notebook (``benchmarks/sparsey_*.py``).

* :func:`digits_levels` — two levels over the 24 x 16 digits: level 1, an 8 x 6 grid of macs
  (Q=8, K=32) over 4 x 4 pixel windows (overlapping: stride 3 x 2.7 pixels); level 2, a 2 x 2 grid of
  macs (Q=8, K=128) over 5 x 4 level-1 macs. Local windows keep each mac's patterns few enough for its
  capacity; one top mac over all 48 level-1 macs merges the codes of different digits.
* :func:`sequence_levels` — two levels over event frames: level 1, a 3 x 3 grid of macs (Q=8, K=32)
  over 8 x 8 windows with horizontal input from the neighbouring macs (radius 1) and top-down input;
  level 2, one mac (Q=8, K=64) over all of them with horizontal input from itself.
"""

from __future__ import annotations

from .config import CSAParams, Level


def digits_levels(csa: CSAParams | None = None) -> list[Level]:
    csa = csa or CSAParams()
    return [Level(Q=8, K=32, grid=(8, 6), rf=(4, 4), csa=csa),
            Level(Q=8, K=128, grid=(2, 2), rf=(5, 4), csa=csa)]


def sequence_levels(window: tuple[int, int] = (8, 8), csa: CSAParams | None = None) -> list[Level]:
    csa = csa or CSAParams()
    return [Level(Q=8, K=32, grid=(3, 3), rf=window, horizontal=1, top_down=True, csa=csa),
            Level(Q=8, K=64, horizontal=0, csa=csa)]
