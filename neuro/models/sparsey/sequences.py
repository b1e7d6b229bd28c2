"""Sequences: learning codes conditioned on the previous frame, recognition from any starting frame.

With horizontal (and top-down) sources, a mac's code at frame ``t`` depends on the codes at
``t - 1``: learning a sequence stores a chain of context-dependent codes (the same input in two
sequences gets two codes). Recognition entered midway has no context on its first frame (U alone);
from then on, the back-off rule uses every kind of evidence whose familiarity passes its threshold,
so a recogniser locks on to the stored chain, and, in a continuous stream, drops a context that
stopped matching (a sequence switched) instead of following it into unfamiliar codes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from neuro.ops.sparsey import as_units

from .readout import CodeMemory, code_overlap

if TYPE_CHECKING:
    from .network import SparseyNetwork


def learn_sequences(net: SparseyNetwork, seqs) -> torch.Tensor:
    """Learn ``seqs [S, T, *input_shape]`` once each, in order (one fused call, a reset at each
    sequence start). Returns the learned codes ``[S, T, n_cm]``."""
    x = as_units(seqs)
    S, T = x.shape[:2]
    reset = torch.zeros(S, T, 1, dtype=torch.uint8)
    reset[:, 0] = 1
    out, _ = net.learn(x.reshape(S * T, 1, *x.shape[2:]), reset=reset.reshape(S * T, 1))
    return out.codes[:, 0].reshape(S, T, -1)


def recognise_from(net: SparseyNetwork, seqs, start: int, *, backoff: bool = True,
                   mode: str = "maxv") -> torch.Tensor:
    """Recognise every sequence from frame ``start`` on, as ``S`` independent sequences (batched).
    Returns codes ``[S, T - start, n_cm]``."""
    x = as_units(seqs)
    if not 0 <= start < x.shape[1]:
        raise ValueError(f"start must lie in [0, {x.shape[1] - 1}], got {start}")
    out, _ = net.recognise(x[:, start:].transpose(0, 1), mode=mode, backoff=backoff)
    return out.codes.transpose(0, 1)


def stream(net: SparseyNetwork, seqs, order, starts, *,
           backoff: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """One continuous stream without resets: sequence ``order[i]`` from frame ``starts[i]`` to its
    end, then the next. Returns ``(codes [F, n_cm], evidence [F, M])`` of the ``F`` frames."""
    x = as_units(seqs)
    frames = torch.cat([x[s, k:] for s, k in zip(order, starts)])
    out, _ = net.recognise(frames.unsqueeze(1), backoff=backoff)
    return out.codes[:, 0], out.evidence[:, 0]


def sequence_scores(learned: torch.Tensor, codes: torch.Tensor, seq_ids, frame_ids, level_cms: slice
                    ) -> dict:
    """Compare recognised ``codes [F, n_cm]`` with the ``learned [S, T, n_cm]`` codes of the frames
    ``(seq_ids[f], frame_ids[f])`` they should reinstate, on the CMs ``level_cms``.

    Returns ``exact`` (per-frame: the level's code equals the stored one), ``overlap`` (fraction of
    cells shared) and ``identified`` (the stored code with the largest likelihood belongs to the
    right sequence), each ``[F]`` float arrays.
    """
    S, T, C = learned.shape
    stored = learned[:, :, level_cms].reshape(S * T, -1)
    target = learned[torch.as_tensor(seq_ids), torch.as_tensor(frame_ids)][:, level_cms]
    got = codes[:, level_cms]
    shared = code_overlap(got, target).double()
    best = CodeMemory(stored).nearest(got) // T
    return {"exact": (shared == got.shape[-1]).double().numpy(),
            "overlap": (shared / got.shape[-1]).numpy(),
            "identified": (best == torch.as_tensor(seq_ids)).double().numpy()}


def midway_recognition(net: SparseyNetwork, seqs, learned: torch.Tensor, level: int = -1,
                       backoff: bool = True) -> np.ndarray:
    """Per start frame ``k``: the fraction of frames ``k+1 .. T-1`` (after the first, context-free one)
    of every sequence whose code at ``level`` equals the learned one. Returns ``[T - 1]``."""
    S, T = learned.shape[:2]
    cms = slice(*net.cm_range(level))
    rates = []
    for k in range(T - 1):
        codes = recognise_from(net, seqs, k, backoff=backoff)         # [S, T - k, n_cm]
        ok = (codes[:, 1:, cms] == learned[:, k + 1:, cms]).all(-1)
        rates.append(float(ok.double().mean()))
    return np.asarray(rates)
