"""Sparsey's Code Selection Algorithm as an op: packed network arrays, state, dispatch.

The equations are in :mod:`neuro.kernels.sparsey_math`, the semantics of a frame (macs in
topological order; per mac, codes of every sequence, then the batch Hebbian update) in
:mod:`neuro.kernels.sparsey_cpu`. :mod:`neuro.models.sparsey` builds the arrays from levels of
macs; this layer only runs them.

Backends (``neuro.backends``): ``"numba"`` — one fused CPU kernel for all frames, macs and
sequences (ranges of sequences on threads when not learning); ``"cuda"`` — ``numba.cuda`` kernels,
one launch per level and frame; ``"torch"`` — the reference, the numpy oracle of
:mod:`neuro.ops.sparsey_reference` run on CPU copies (named ``torch`` like every op's reference).
All three give the same bits, the probabilistic choice included (see ``sparsey_math``).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from neuro.backends import cuda_simulator_enabled, resolve_backend
from neuro.kernels import sparsey_math as sm
from neuro.ops._launch import call_cpu, launch_cuda, run_cpu_chunks
from neuro.ops.sparsey_reference import csa_frames_numpy

# Threads per block under Numba's CUDA simulator (each is a Python thread there; the kernels take
# any block size: every loop over cells, CMs or sources is strided by the block size).
SIMULATOR_THREADS = 4


class SparseyTopology(NamedTuple):
    """A network of macs packed for the kernels (build it with ``neuro.models.sparsey``).

    ``mi [M, MI_COLS]`` int64 and ``mf [M, MF_COLS]`` float64 (columns in ``sparsey_math``),
    ``src [S]`` int64 (global unit indices of every mac's sources), ``levels``: ``(m0, m1)`` mac
    ranges of each level (level 1 first), ``n_in`` input units, ``n_units`` = input units + cells,
    ``n_cm`` CMs in all.
    """

    mi: torch.Tensor
    mf: torch.Tensor
    src: torch.Tensor
    levels: tuple[tuple[int, int], ...]
    n_in: int
    n_units: int
    n_cm: int

    def to(self, device: torch.device | str) -> SparseyTopology:
        """The same topology with its tensors ``mi``, ``mf`` and ``src`` moved to ``device``."""
        return self._replace(mi=self.mi.to(device), mf=self.mf.to(device), src=self.src.to(device))


class SparseyWeights(NamedTuple):
    """Binary weights (flat uint8, blocks ``[R, Q*K]`` per mac and bundle), the number of ones of
    each bundle ``ones [M, 3]`` (int64; bundles U, H, D) and its frozen flag ``frozen [M, 3]``
    (uint8). Learning updates all three in place."""

    w: torch.Tensor
    ones: torch.Tensor
    frozen: torch.Tensor


class CSAState(NamedTuple):
    """Per-sequence state between calls: previous frame's unit vector ``prev [B, n_units]`` (uint8),
    current winners ``code [B, n_cm]`` (int32, -1 where the mac is off), frames of persistence left
    ``age [B, M]`` (int32) and the familiarity of each kept code ``gmem [B, M]`` (float64)."""

    prev: torch.Tensor
    code: torch.Tensor
    age: torch.Tensor
    gmem: torch.Tensor


class CSAFrames(NamedTuple):
    """Outputs per frame: winners ``codes [T, B, n_cm]`` (int32, cell index in its CM, -1: mac off),
    familiarity ``G [T, B, M]`` (float64) and ``evidence [T, B, M]`` (int8: the back-off candidate
    used, 0 every kind of input, 1 without top-down, 2 without horizontal, 3 bottom-up alone;
    ``EV_PERSIST`` = 4 a kept code, ``EV_OFF`` = -1 mac off)."""

    codes: torch.Tensor
    familiarity: torch.Tensor
    evidence: torch.Tensor


def initial_state(topo: SparseyTopology, batch: int, device: torch.device | str = "cpu") -> CSAState:
    """The state of ``batch`` sequences that have seen nothing."""
    M = topo.mi.shape[0]
    return CSAState(torch.zeros(batch, topo.n_units, dtype=torch.uint8, device=device),
                    torch.full((batch, topo.n_cm), -1, dtype=torch.int32, device=device),
                    torch.zeros(batch, M, dtype=torch.int32, device=device),
                    torch.zeros(batch, M, dtype=torch.float64, device=device))


def _check(x: torch.Tensor, reset: torch.Tensor, topo: SparseyTopology, weights: SparseyWeights,
           state: CSAState) -> None:
    if x.dim() != 3 or x.shape[2] != topo.n_in:
        raise ValueError(f"x must be [T, B, {topo.n_in}] input units, got {tuple(x.shape)}")
    if x.dtype != torch.uint8:
        raise TypeError(f"x must be uint8 (0/1 input units), got {x.dtype}")
    if reset.shape != x.shape[:2] or reset.dtype != torch.uint8:
        raise ValueError(f"reset must be uint8 [T, B] = {tuple(x.shape[:2])}, got "
                         f"{reset.dtype} {tuple(reset.shape)}")
    B = x.shape[1]
    M = topo.mi.shape[0]
    expect = {"prev": ((B, topo.n_units), torch.uint8), "code": ((B, topo.n_cm), torch.int32),
              "age": ((B, M), torch.int32), "gmem": ((B, M), torch.float64)}
    for name, (shape, dtype) in expect.items():
        t = getattr(state, name)
        if tuple(t.shape) != shape or t.dtype != dtype:
            raise ValueError(f"state.{name} must be {dtype} {shape}, got {t.dtype} {tuple(t.shape)}")
    if weights.w.dtype != torch.uint8 or weights.ones.shape != (M, 3) or weights.frozen.shape != (M, 3):
        raise ValueError("weights must be SparseyWeights(w uint8, ones [M, 3], frozen [M, 3])")
    for name, t in (("x", x), ("reset", reset), ("weights.w", weights.w), ("topology.mi", topo.mi),
                    ("state.prev", state.prev)):
        if t.device != x.device:
            raise ValueError(f"{name} is on {t.device}, x on {x.device}: put every tensor on one device")


def csa_frames(x: torch.Tensor, reset: torch.Tensor, topo: SparseyTopology, weights: SparseyWeights,
               state: CSAState | None = None, *, learn: bool = False, maxv: bool = True,
               backoff: bool = False, seed: int = 0, step0: int = 0, backend: str = "auto",
               margins: torch.Tensor | None = None) -> tuple[CSAFrames, CSAState]:
    """Run the CSA over ``T`` frames of ``B`` independent sequences.

    Args:
        x: ``[T, B, n_in]`` uint8 input units (0/1).
        reset: ``[T, B]`` uint8; 1 where a sequence starts (previous activity and persistence are
            cleared before that frame).
        topo, weights: the packed network (weights are updated in place when ``learn``).
        state: from a previous call (default: nothing seen). Not modified; the new state is returned.
        learn: single-trial Hebbian learning (and freezing) after each mac's choice.
        maxv: choose ``argmax V`` per CM (deterministic recognition) instead of drawing from ``rho``.
        backoff: try the evidence combinations in order (all kinds, without D, without H, U alone)
            and use the first whose familiarity reaches its threshold.
        seed, step0: key of the random numbers (``uniform(seed, step0 + t, counter)``).
        backend: ``"auto" | "numba" | "cuda" | "torch"`` (the numpy reference).
        margins: optional ``[T, B, n_cm]`` float64 tensor filled by the reference backend with each
            draw's distance to a cumulative boundary (tests of the probabilistic bound).

    Returns ``(CSAFrames, CSAState)``.
    """
    chosen = resolve_backend(backend, x)
    T, B = x.shape[0], x.shape[1]
    state = initial_state(topo, B, x.device) if state is None else CSAState(*(s.clone() for s in state))
    _check(x, reset, topo, weights, state)
    M = topo.mi.shape[0]
    dev = x.device
    out = CSAFrames(torch.full((T, B, topo.n_cm), -1, dtype=torch.int32, device=dev),
                    torch.zeros(T, B, M, dtype=torch.float64, device=dev),
                    torch.full((T, B, M), sm.EV_OFF, dtype=torch.int8, device=dev))
    if T == 0 or B == 0:
        return out, state
    args = (x, reset, topo.mi, topo.mf, topo.src, *weights, *state, *out)
    flags = (int(seed), int(step0), bool(learn), bool(maxv), bool(backoff))
    if chosen == "torch":
        _run_reference(args, flags, margins)
    elif chosen == "numba":
        from neuro.kernels.sparsey_cpu import csa_frames as kernel

        if learn:   # weights shared by every sequence: one range
            call_cpu(kernel, *args, *flags, 0, B)
        else:
            run_cpu_chunks(kernel, B, *args, *flags)
    else:
        _run_cuda(x, reset, topo, weights, state, out, flags)
    return out, state


def _run_reference(args, flags, margins) -> None:
    cpu = [a.detach().cpu() for a in args]
    arrays = [a.numpy() for a in cpu]
    m = None if margins is None else margins.detach().cpu().numpy()
    csa_frames_numpy(*arrays, *flags, margins=m)
    for a, c in zip(args, cpu):
        if a.device.type != "cpu":
            a.copy_(c)
    if margins is not None and margins.device.type != "cpu":
        margins.copy_(torch.from_numpy(m))


def _run_cuda(x, reset, topo, weights, state, out, flags) -> None:
    from neuro.kernels import sparsey_cuda as kc

    seed, step0, learn, maxv, backoff = flags
    T, B = x.shape[0], x.shape[1]
    dev = x.device
    act = torch.zeros(B, topo.n_units, dtype=torch.uint8, device=dev)
    su, sh, sd = (torch.zeros(B, topo.n_units, dtype=torch.int64, device=dev) for _ in range(3))
    cmmax = torch.zeros(B, topo.n_cm, dtype=torch.float64, device=dev)
    prev, code, age, gmem = state
    codes_out, g_out, ev_out = out
    th = SIMULATOR_THREADS if cuda_simulator_enabled() else kc.THREADS
    for t in range(T):
        launch_cuda(kc.begin_frame, B, th, (t, x, reset, prev, code, age, gmem, act))
        for m0, m1 in topo.levels:
            launch_cuda(kc.choose_level, (m1 - m0, B), th,
                        (t, m0, topo.mi, topo.mf, topo.src, weights.w, prev, act, code, age, gmem,
                         su, sh, sd, cmmax, g_out, ev_out, seed, step0, maxv, backoff))
            if learn:
                launch_cuda(kc.learn_level, m1 - m0, th,
                            (t, m0, topo.mi, topo.mf, topo.src, weights.w, prev, act, code, ev_out,
                             weights.ones, weights.frozen))
        launch_cuda(kc.end_frame, B, th, (t, act, prev, code, codes_out))


def draw_margins(x: torch.Tensor, reset: torch.Tensor, topo: SparseyTopology, weights: SparseyWeights,
                 state: CSAState | None = None, **options) -> tuple[CSAFrames, torch.Tensor]:
    """The reference run with each probabilistic draw's margin ``[T, B, n_cm]`` (NaN where no draw
    happened): ``|u * sum(mu) - nearest cumulative sum| / sum(mu)``. A draw can only change winner
    under a perturbation of ``mu`` larger than its margin (the bound the GPU test states).
    Weights are not modified (the run works on a copy)."""
    w = SparseyWeights(*(t.clone() for t in weights))
    margins = torch.full((x.shape[0], x.shape[1], topo.n_cm), float("nan"), dtype=torch.float64)
    out, _ = csa_frames(x.cpu(), reset.cpu(), topo.to("cpu"), SparseyWeights(*(t.cpu() for t in w)),
                        None if state is None else CSAState(*(s.cpu() for s in state)),
                        backend="torch", margins=margins, **options)
    return out, margins


def as_units(x: np.ndarray | torch.Tensor) -> torch.Tensor:
    """0/1 uint8 tensor from a boolean or numeric array (nonzero -> 1)."""
    t = torch.as_tensor(x)
    return (t != 0).to(torch.uint8)
