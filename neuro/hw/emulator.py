"""Run an :class:`~neuro.hw.network.IntegerNetwork` bit-exactly on the CPU or with CUDA.

``emulate(network, spikes[T, B, *input_shape], backend="numba"|"cuda")`` returns every layer's
spikes, the spike and synaptic-operation counts per sample and layer, the number of register
overflow events (saturated, but reported), and optionally the membrane of every step. Both
backends run the same integer operations (``neuro.kernels.hw_math``) and give identical results;
with ``NUMBA_ENABLE_CUDASIM=1`` the CUDA kernel runs on Numba's simulator.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np
import torch

from neuro.backends import cuda_simulator_enabled, require_numba_cuda
from neuro.hw.network import IntegerNetwork
from neuro.ops._launch import launch_cuda, numba_threads

Array = np.ndarray | torch.Tensor


class EmulatorResult(NamedTuple):
    """Outputs of :func:`emulate` (numpy; ``[T, B, n]`` per layer, ``[B, L]`` counters)."""

    spikes: list[np.ndarray]
    counts: np.ndarray
    synops: np.ndarray
    overflow: np.ndarray
    v: list[np.ndarray] | None
    u_final: np.ndarray
    v_final: np.ndarray

    @property
    def output(self) -> np.ndarray:
        """Spikes of the last layer, ``[T, B, n_out]``."""
        return self.spikes[-1]


def as_spike_counts(x: Array, n_inputs: int) -> np.ndarray:
    """``[T, B, *features]`` spikes as uint8 ``[T, B, n_inputs]``; clear errors for bad input."""
    arr = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    if arr.ndim < 3:
        raise ValueError(f"spikes must be [T, B, *features], got shape {arr.shape}")
    arr = arr.reshape(arr.shape[0], arr.shape[1], -1)
    if arr.shape[2] != n_inputs:
        raise ValueError(f"the network takes {n_inputs} inputs per step, got {arr.shape[2]} "
                         f"features")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise ValueError("spikes contain NaN or inf")
    if arr.size and (np.any(arr < 0) or np.any(arr > 255) or np.any(arr != np.round(arr))):
        raise ValueError("the emulator takes spike counts (integers 0..255) per input and step; "
                         "encode analog inputs as spikes first")
    return np.ascontiguousarray(arr.astype(np.uint8))


def _run_cuda(kernel, blocks: int, threads: int, *args) -> tuple:
    """Run a CUDA kernel on torch's current stream (the CPU under Numba's CUDA simulator) with its
    numpy arguments (also inside tuples) copied to the device; returns its last argument (a tuple of
    output arrays) as numpy arrays."""
    device = torch.device("cpu") if cuda_simulator_enabled() else torch.device("cuda")

    def put(a):
        if isinstance(a, tuple):
            return tuple(map(put, a))
        return torch.from_numpy(a).to(device) if isinstance(a, np.ndarray) else a

    on_device = put(args)
    launch_cuda(kernel, blocks, threads, on_device, device=device)
    return tuple(t.cpu().numpy() for t in on_device[-1])


def emulate(network: IntegerNetwork, spikes: Array, backend: str = "numba",
            record_v: bool = False) -> EmulatorResult:
    """Simulate ``network`` on input ``spikes`` (``[T, B, *features]`` counts); see module doc."""
    if backend not in ("numba", "cuda"):
        raise ValueError(f"backend must be 'numba' or 'cuda', got {backend!r}")
    x = as_spike_counts(spikes, network.n_inputs)
    T, B = x.shape[:2]
    f = network.flat()
    N, L = int(f["du"].shape[0]), len(network.layers)
    half = np.int64(1) << np.int64(network.spec.state_bits - 1)
    spikes_out = np.zeros((T, B, N), np.uint8)
    v_rec = np.zeros((T, B, N) if record_v else (1, 1, 1), np.int64)
    u_fin, v_fin = np.zeros((B, N), np.int64), np.zeros((B, N), np.int64)
    counts, synops, overflow = (np.zeros((B, L), np.int64) for _ in range(3))
    wrap = network.current_overflow == "wrap"
    layers = tuple(f[k] for k in ("w", "w_off", "fanout", "fo_off", "n_in", "n_out", "n_off", "reset"))
    neurons = (f["du"], f["dv"], f["bias"], f["vth"])
    out = (spikes_out, v_rec, u_fin, v_fin, counts, synops, overflow)
    if backend == "numba":
        from neuro.kernels import hw_cpu

        numba_threads()  # starts Numba's threading layer without changing torch's thread count
        hw_cpu.simulate_kernel(network.spec.code, wrap, record_v)(x, layers, neurons, half, out)
    else:
        require_numba_cuda()
        from neuro.kernels import hw_cuda

        out = _run_cuda(hw_cuda.simulate_kernel(network.spec.code, wrap, record_v), B,
                        hw_cuda.THREADS_PER_BLOCK, x, layers, neurons, half, out)
        spikes_out, v_rec, u_fin, v_fin, counts, synops, overflow = out
    if overflow.any():
        per_layer = overflow.sum(0).tolist()
        warnings.warn(f"integer overflow: {per_layer} register overflow events per layer were "
                      "saturated (as the hardware does); lower the layer scales", RuntimeWarning,
                      stacklevel=2)
    bounds = np.concatenate([f["n_off"], [N]])
    split = lambda a: [a[:, :, bounds[k]:bounds[k + 1]] for k in range(L)]  # noqa: E731
    return EmulatorResult(split(spikes_out), counts, synops, overflow,
                          split(v_rec) if record_v else None, u_fin, v_fin)
