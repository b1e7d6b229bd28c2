"""A Sparsey network: levels of macs, their binary weights, and the CSA run over frames."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from neuro.kernels import sparsey_math as sm
from neuro.ops.sparsey import CSAFrames, CSAState, SparseyWeights, as_units, csa_frames

from .config import CSAParams, Level
from .topology import Layout, build_layout

MODES = ("maxv", "prob")


class SparseyNetwork:
    """Levels of macs over an input of ``input_shape``, learned single-trial (see the package docs).

    Args:
        input_shape: ``(n,)``, ``(H, W)`` or ``(C, H, W)`` binary input units.
        levels: :class:`Level` s, level 1 (on the input) first.
        seed: key of the counter-based random numbers of the probabilistic choice.
        device: where weights and state live (``"cuda"`` runs the numba.cuda kernels).
        backend: ``"auto" | "numba" | "cuda" | "torch"`` (the numpy reference).

    Frames are ``[T, B, *input_shape]`` (nonzero = active): ``T`` frames of ``B`` independent
    sequences. Every call advances a frame counter, so successive calls draw fresh random numbers and
    the whole history is reproducible from ``seed``.
    """

    def __init__(self, input_shape: Sequence[int], levels: Sequence[Level], *, seed: int = 0,
                 device: torch.device | str = "cpu", backend: str = "auto") -> None:
        self.layout: Layout = build_layout(input_shape, levels)
        self.input_shape = tuple(int(s) for s in input_shape)
        self.levels = tuple(levels)
        self.device = torch.device(device)
        self.backend = backend
        self.seed = int(seed)
        self.frames_seen = 0
        self.topology = self.layout.tensors(self.device)
        M = self.layout.mi.shape[0]
        dev = self.device
        self.weights = SparseyWeights(torch.zeros(self.layout.weight_size, dtype=torch.uint8, device=dev),
                                      torch.zeros(M, 3, dtype=torch.int64, device=dev),
                                      torch.zeros(M, 3, dtype=torch.uint8, device=dev))

    # -- sizes and views -------------------------------------------------------------------------
    @property
    def n_macs(self) -> int:
        """Number of macs in all levels."""
        return self.layout.mi.shape[0]

    def macs(self, level: int) -> range:
        """Global mac indices of ``level`` (0-based; negative counts from the top)."""
        return range(*self.layout.level_ranges[self._level(level)])

    def cm_range(self, level: int) -> tuple[int, int]:
        """``(first, end)`` CM indices of ``level`` in the flat codes."""
        m0, m1 = self.layout.level_ranges[self._level(level)]
        mi = self.layout.mi
        return int(mi[m0, sm.MI_CM]), int(mi[m1 - 1, sm.MI_CM] + mi[m1 - 1, sm.MI_Q])

    def level_codes(self, codes: torch.Tensor, level: int = -1) -> torch.Tensor:
        """The codes of one level as ``[..., M_l, Q_l]`` from flat codes ``[..., n_cm]``."""
        lv = self.levels[self._level(level)]
        c0, c1 = self.cm_range(level)
        return codes[..., c0:c1].reshape(*codes.shape[:-1], lv.n_macs, lv.Q)

    def level_cells(self, codes: torch.Tensor, level: int = -1) -> torch.Tensor:
        """Binary cell activity ``[..., M_l * Q_l * K_l]`` (uint8) of one level from flat codes."""
        lv = self.levels[self._level(level)]
        c = self.level_codes(codes, level).long()
        out = torch.zeros(*c.shape, lv.K, dtype=torch.uint8, device=c.device)
        on = c >= 0
        out.scatter_(-1, c.clamp(min=0).unsqueeze(-1), on.unsqueeze(-1).to(torch.uint8))
        return out.reshape(*codes.shape[:-1], lv.n_macs * lv.cells)

    def _level(self, level: int) -> int:
        n = len(self.levels)
        if not -n <= level < n:
            raise ValueError(f"level must be in [{-n}, {n - 1}], got {level}")
        return level % n

    # -- running ---------------------------------------------------------------------------------
    def _frames(self, x) -> torch.Tensor:
        t = as_units(x).to(self.device)
        n_in = self.layout.n_in
        if t.dim() < 2 or int(np.prod(t.shape[2:])) != n_in:
            raise ValueError(f"frames must be [T, B, *{self.input_shape}], got {tuple(t.shape)}")
        return t.reshape(t.shape[0], t.shape[1], n_in).contiguous()

    def run(self, x, state: CSAState | None = None, *, learn: bool = False, mode: str = "maxv",
            backoff: bool | None = None, reset=None) -> tuple[CSAFrames, CSAState]:
        """Run ``T`` frames of ``B`` sequences ``x [T, B, *input_shape]``.

        ``mode``: ``"maxv"`` (argmax V per CM) or ``"prob"`` (draw from rho). ``backoff``: default
        ``not learn`` (learning always uses every kind of evidence present, so that codes stay
        context-dependent). ``reset [T, B]``: where sequences start; default: at frame 0 when
        ``state`` is None, nowhere otherwise. Returns ``(CSAFrames, state)``.
        """
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        frames = self._frames(x)
        T, B = frames.shape[:2]
        if reset is None:
            reset_t = torch.zeros(T, B, dtype=torch.uint8, device=self.device)
            if state is None and T > 0:
                reset_t[0] = 1
        else:
            reset_t = as_units(reset).to(self.device)
            if tuple(reset_t.shape) != (T, B):
                raise ValueError(f"reset must be [T, B] = {(T, B)}, got {tuple(reset_t.shape)}")
        out, state = csa_frames(frames, reset_t, self.topology, self.weights, state, learn=learn,
                                maxv=mode == "maxv", backoff=(not learn) if backoff is None else backoff,
                                seed=self.seed, step0=self.frames_seen, backend=self.backend)
        self.frames_seen += T
        return out, state

    def learn(self, x, state: CSAState | None = None, *, reset=None) -> tuple[CSAFrames, CSAState]:
        """Single-trial learning of the frames ``x``: probabilistic choice, no back-off."""
        return self.run(x, state, learn=True, mode="prob", backoff=False, reset=reset)

    def recognise(self, x, state: CSAState | None = None, *, mode: str = "maxv", backoff: bool = True,
                  reset=None) -> tuple[CSAFrames, CSAState]:
        """Recognition (no learning): max-V choice with back-off by default."""
        return self.run(x, state, learn=False, mode=mode, backoff=backoff, reset=reset)

    def learn_items(self, items) -> CSAFrames:
        """Learn ``items [N, *input_shape]`` one after another, each a one-frame sequence (one fused
        kernel call). Returns the frames' outputs with ``B`` = 1 squeezed: ``codes [N, n_cm]``."""
        x = as_units(items).unsqueeze(1)
        out, _ = self.run(x, learn=True, mode="prob", backoff=False,
                          reset=torch.ones(x.shape[0], 1, dtype=torch.uint8))
        return CSAFrames(*(o[:, 0] for o in out))

    def recognise_items(self, items, mode: str = "maxv") -> CSAFrames:
        """Recognise ``items [N, *input_shape]`` independently (a batch of one-frame sequences, on
        threads). Returns ``codes [N, n_cm]``, ``familiarity [N, M]``, ``evidence [N, M]``."""
        x = as_units(items).unsqueeze(0)
        out, _ = self.run(x, learn=False, mode=mode, backoff=False)
        return CSAFrames(*(o[0] for o in out))

    # -- weights -----------------------------------------------------------------------------------
    def saturation(self, level: int = 0) -> torch.Tensor:
        """Fraction of ones of each mac's U, H, D bundles at ``level``: ``[M_l, 3]`` (NaN: no bundle)."""
        rng = self.macs(level)
        mi = self.layout.mi
        n = (mi[rng.start:rng.stop, sm.MI_Q] * mi[rng.start:rng.stop, sm.MI_K])[:, None]
        size = np.stack([mi[rng.start:rng.stop, sm.MI_U1 + 2 * j] - mi[rng.start:rng.stop, sm.MI_U0 + 2 * j]
                         for j in range(3)], 1) * n
        ones = self.weights.ones[rng.start:rng.stop].cpu().double()
        size_t = torch.from_numpy(size).double()
        return torch.where(size_t > 0, ones / size_t.clamp(min=1), torch.full_like(ones, float("nan")))

    def frozen(self, level: int = 0) -> torch.Tensor:
        """Frozen flags ``[M_l, 3]`` (bool) of the U, H, D bundles of ``level``'s macs."""
        rng = self.macs(level)
        return self.weights.frozen[rng.start:rng.stop].cpu().bool()

    def weight_block(self, m: int, bundle: int = 0) -> np.ndarray:
        """Mac ``m``'s weights of bundle 0 (U), 1 (H) or 2 (D) as ``[R, Q K]`` (a CPU copy)."""
        return self.layout.weight_block(self.weights.w.cpu().numpy(), m, bundle).copy()

    def state_dict(self) -> dict:
        """A copy of the weights, counts, frozen flags and the frame counter (CPU tensors,
        ``torch.save``-able; later learning does not change it)."""
        return {"w": self.weights.w.detach().cpu().clone(), "ones": self.weights.ones.detach().cpu().clone(),
                "frozen": self.weights.frozen.detach().cpu().clone(),
                "frames_seen": torch.tensor(self.frames_seen), "seed": torch.tensor(self.seed)}

    def load_state_dict(self, state: dict) -> None:
        """Restore what :meth:`state_dict` saved (the same levels and input shape)."""
        for name, t in zip(("w", "ones", "frozen"), self.weights):
            if tuple(state[name].shape) != tuple(t.shape) or state[name].dtype != t.dtype:
                raise ValueError(f"state_dict[{name!r}] is {state[name].dtype} {tuple(state[name].shape)}, "
                                 f"this network needs {t.dtype} {tuple(t.shape)}")
            t.copy_(state[name].to(self.device))
        self.frames_seen = int(state["frames_seen"])
        self.seed = int(state["seed"])


def single_mac(n_inputs: int, Q: int, K: int, *, seed: int = 0, backend: str = "auto",
               csa: CSAParams | None = None, **level_options) -> SparseyNetwork:
    """A network of one mac whose receptive field is all ``n_inputs`` input units."""
    return SparseyNetwork((n_inputs,), [Level(Q=Q, K=K, csa=csa or CSAParams(), **level_options)], seed=seed,
                          backend=backend)
