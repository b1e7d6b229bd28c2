"""Sparsey's behavioural invariants as functions (used by the tests, the benchmarks, the notebook).

* :func:`one_mac_fixture` — the dcc-sparsey fixture: one mac (Q=5, K=8) over 16 input bits learns 4
  well-separated 3-bit inputs once each (probabilistic CSA); max-V recognition must reinstate every
  code exactly with G = 1, a held-out novel input must get a low G.
* :func:`sisc_curve` — similar inputs, similar codes: mean intersection (cells) between the code of a
  learned base input and the code the CSA assigns to variants sharing ``o`` of its ``s`` active bits;
  monotone in ``o``, at chance (``Q/K`` cells) for ``o`` near 0.
* :func:`capacity_curve` — retrieval after storing ``N`` random sparse items: exact reinstatement of
  the learned code, mean code overlap, identification of the item from its code.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from .config import CSAParams
from .network import single_mac
from .readout import CodeMemory, code_overlap

FIXTURE_INPUTS = ((0, 1, 2), (4, 5, 6), (8, 9, 10), (12, 13, 14))
FIXTURE_NOVEL = (3, 7, 11)


def bits(n: int, on: Sequence[Sequence[int]]) -> np.ndarray:
    """``[len(on), n]`` uint8 rows with ones at the given indices."""
    x = np.zeros((len(on), n), np.uint8)
    for i, idx in enumerate(on):
        x[i, list(idx)] = 1
    return x


def random_inputs(rng: np.random.Generator, count: int, n: int, s: int) -> np.ndarray:
    """``count`` random inputs of ``n`` bits with exactly ``s`` ones."""
    order = rng.random((count, n)).argsort(1)[:, :s]
    x = np.zeros((count, n), np.uint8)
    np.put_along_axis(x, order, 1, axis=1)
    return x


def one_mac_fixture(seed: int = 0, backend: str = "auto") -> dict:
    """Run the dcc-sparsey fixture; returns the learned and recognised codes and familiarities."""
    net = single_mac(16, 5, 8, seed=seed, backend=backend)
    items = bits(16, FIXTURE_INPUTS)
    learned = net.learn_items(items)
    recog = net.recognise_items(items)
    novel = net.recognise_items(bits(16, [FIXTURE_NOVEL]))
    return {"learned": learned.codes, "recognised": recog.codes, "G_learned": recog.familiarity[:, 0],
            "G_novel": float(novel.familiarity[0, 0]), "G_at_learning": learned.familiarity[:, 0],
            "network": net}


def sisc_curve(n: int = 64, s: int = 8, Q: int = 8, K: int = 8, trials: int = 50,
               csa: CSAParams | None = None, seed: int = 0, backend: str = "auto",
               per_trial: bool = False) -> np.ndarray:
    """Mean code intersection (cells) vs input overlap ``o = 0..s``: ``[s + 1]`` (``[trials, s + 1]``
    with ``per_trial``).

    Each trial: a fresh mac learns one random base input (``s`` of ``n`` bits); the CSA's
    probabilistic choice (as at learning time) then codes one variant per ``o`` that keeps ``o`` of
    the base's bits and moves the others to bits the base does not use.
    """
    csa = csa or CSAParams()
    rng = np.random.default_rng(seed)
    out = np.zeros((trials, s + 1))
    for trial in range(trials):
        net = single_mac(n, Q, K, seed=seed * 100_003 + trial, csa=csa, backend=backend)
        base_on = rng.choice(n, s, replace=False)
        base = np.zeros(n, np.uint8)
        base[base_on] = 1
        code0 = net.learn_items(base[None]).codes[0]
        free = np.setdiff1d(np.arange(n), base_on)
        variants = np.zeros((s + 1, n), np.uint8)
        for o in range(s + 1):
            variants[o, rng.choice(base_on, o, replace=False)] = 1
            variants[o, rng.choice(free, s - o, replace=False)] = 1
        codes = net.recognise_items(variants, mode="prob").codes
        out[trial] = code_overlap(codes, code0).numpy()
    return out if per_trial else out.mean(0)


def capacity_curve(counts: Sequence[int], n: int = 64, s: int = 6, Q: int = 8, K: int = 8,
                   csa: CSAParams | None = None, seed: int = 0, backend: str = "auto") -> dict:
    """Retrieval after learning ``max(counts)`` random items (``s`` of ``n`` bits) in one mac,
    evaluated on all items stored so far at each count in ``counts``.

    Returns ``{"count", "exact", "overlap", "identified", "saturation"}`` lists: fraction of items
    whose max-V code equals the learned one, mean shared fraction of cells, fraction identified as
    themselves by the nearest stored code, and the fraction of ones in the weights.
    """
    csa = csa or CSAParams()
    counts = sorted(int(c) for c in counts)
    rng = np.random.default_rng(seed)
    items = random_inputs(rng, counts[-1], n, s)
    net = single_mac(n, Q, K, seed=seed, csa=csa, backend=backend)
    res: dict = {"count": [], "exact": [], "overlap": [], "identified": [], "saturation": []}
    learned = []
    done = 0
    for c in counts:
        learned.append(net.learn_items(items[done:c]).codes)
        done = c
        stored = torch.cat(learned)
        rec = net.recognise_items(items[:c]).codes
        shared = code_overlap(rec, stored).double()
        ident = CodeMemory(stored).nearest(rec) == torch.arange(c)
        res["count"].append(c)
        res["exact"].append(float((shared == Q).double().mean()))
        res["overlap"].append(float(shared.mean() / Q))
        res["identified"].append(float(ident.double().mean()))
        res["saturation"].append(float(net.saturation(0)[0, 0]))
    return res
