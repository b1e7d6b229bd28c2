"""Sparsey's CSA kernels against the numpy oracle: bit-identical on the CPU (Numba) and on CUDA
(simulator here, a GPU natively), in learning and recognition, probabilistic and max-V; the
arithmetic helpers; argument checks."""

import math

import numpy as np
import pytest
import torch

from neuro.kernels import sparsey_math as sm
from neuro.models.sparsey import CSAParams, Level, SparseyNetwork
from neuro.ops import sparsey_reference as ref
from neuro.ops.sparsey import SparseyWeights, csa_frames, draw_margins, initial_state

# SplitMix64 multiplies wrap by design; numpy scalars (CUDA simulator) warn about it
pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")


def test_exp_det_close_to_libm_and_identical_everywhere():
    x = np.concatenate([np.linspace(-40, 40, 4001), [-708.0, -700.5, 0.0, 1e-12, 709.0]])
    got = ref.exp_det(x)
    want = np.exp(x)
    assert np.max(np.abs(got / want - 1)) < 6e-16
    scalar = np.array([sm.exp_det(float(v)) for v in x])          # the pure-Python description
    compiled = sm.compile_for("cpu").exp_det
    assert np.array_equal(scalar.view(np.int64), got.view(np.int64))
    assert np.array_equal(np.array([compiled(float(v)) for v in x]).view(np.int64), got.view(np.int64))
    assert all(sm.two_pow(n) == math.ldexp(1.0, n) for n in range(-1022, 1024, 7))


def test_expansivity_and_sigmoid_values():
    assert sm.eta_of(1.0, 0.1, 2, 100.0, 8.0) == pytest.approx(801.0)     # SparseyCore's sanity value
    assert sm.eta_of(0.05, 0.1, 2, 100.0, 8.0) == 1.0                     # below G-: flat
    eta = 801.0
    mus = [sm.mu_of(v, eta, 60.0, 0.9) for v in np.linspace(0, 1, 11)]
    assert all(b >= a for a, b in zip(mus, mus[1:])) and min(mus) >= 1.0
    assert sm.mu_of(0.3, 1.0, 60.0, 0.9) == 1.0                           # eta = 1: uniform


def _network(backend: str, **over) -> SparseyNetwork:
    """Two levels with every mechanism: band fields, H and D, gates, persistence, freezing."""
    l1 = dict(Q=4, K=5, grid=(2, 2), rf=(5, 5), horizontal=1, top_down=True, min_active=2, max_active=20,
              freeze=0.3)
    l2 = dict(Q=5, K=4, grid=(1, 2), rf=(2, 1), horizontal=0, persistence=2)
    l1.update(over)
    return SparseyNetwork((2, 8, 8), [Level(**l1), Level(**l2)], seed=3, backend=backend)


def _drive(net: SparseyNetwork, x: np.ndarray, reset: np.ndarray):
    """Learn (probabilistic), then recognise max-V with back-off, then probabilistic with back-off."""
    out1, s1 = net.run(x, learn=True, mode="prob", reset=reset)
    out2, s2 = net.run(x, s1, mode="maxv", backoff=True)
    out3, s3 = net.run(x, s2, mode="prob", backoff=True)
    return [*out1, *out2, *out3, *net.weights, *s3]


def _frames(T: int, B: int, density: float, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = (rng.random((T, B, 2, 8, 8)) < density).astype(np.uint8)
    reset = np.zeros((T, B), np.uint8)
    reset[0] = 1
    reset[T // 2, B - 1] = 1
    return x, reset


def test_cpu_kernel_bit_identical_to_reference():
    x, reset = _frames(12, 3, 0.15)
    got = _drive(_network("numba"), x, reset)
    want = _drive(_network("torch"), x, reset)
    for a, b in zip(got, want):
        assert a.dtype == b.dtype and torch.equal(a, b)
    ev = got[2]
    assert (ev == sm.EV_PERSIST).any() and (ev == sm.EV_OFF).any() and (ev == 0).any()
    assert (got[5] == 3).any() or (got[5] == 1).any()        # back-off used in recognition
    frozen = got[10]
    assert frozen.any() and not frozen.all()


def test_cpu_threads_split_sequences_identically():
    import numba

    x, reset = _frames(6, 5, 0.12, seed=1)
    net = _network("numba")
    net.learn(x, reset=reset)
    old = numba.get_num_threads()
    outs = []
    for threads in (1, min(2, numba.config.NUMBA_NUM_THREADS)):
        numba.set_num_threads(threads)
        try:
            outs.append(net.run(x, mode="prob", backoff=True, reset=reset))
        finally:
            numba.set_num_threads(old)
        net.frames_seen -= x.shape[0]       # same random numbers for both runs
    for a, b in zip(outs[0][0], outs[1][0]):
        assert torch.equal(a, b)


def test_cuda_kernels_bit_identical_to_reference(cuda_device):
    rng = np.random.default_rng(2)
    x = (rng.random((3, 2, 2, 6, 6)) < 0.2).astype(np.uint8)
    reset = np.zeros((3, 2), np.uint8)
    reset[0] = 1

    def build(backend, device):
        return SparseyNetwork((2, 6, 6), [Level(Q=3, K=4, grid=(2, 1), rf=(4, 6), horizontal=1, top_down=True,
                                                freeze=0.2),
                                          Level(Q=4, K=3, horizontal=0, persistence=2)],
                              seed=5, backend=backend, device=device)

    got = _drive(build("cuda", cuda_device), x, reset)
    want = _drive(build("torch", "cpu"), x, reset)
    for a, b in zip(got, want):
        assert a.device.type == torch.device(cuda_device).type
        assert torch.equal(a.cpu(), b)


def test_probabilistic_choice_bound(cuda_device):
    """The documented GPU bound: a draw whose margin (distance of ``u * sum(mu)`` to a cumulative
    boundary, relative) exceeds MARGIN chooses the same winner on every backend. The kernels use no
    libm transcendental, so the bound is met with zero differing winners at any margin."""
    MARGIN = 1e-12
    net = SparseyNetwork((12,), [Level(Q=6, K=8)], seed=11, backend="torch")
    rng = np.random.default_rng(3)
    items = (rng.random((20, 12)) < 0.3).astype(np.uint8)
    net.learn_items(items)
    x = torch.from_numpy((rng.random((1, 16, 12)) < 0.3).astype(np.uint8))
    reset = torch.ones(1, 16, dtype=torch.uint8)
    out, margins = draw_margins(x, reset, net.topology, net.weights, maxv=False, seed=7, step0=4)
    dev = cuda_device
    topo = net.topology.to(dev)
    w = SparseyWeights(*(t.to(dev) for t in net.weights))
    gpu, _ = csa_frames(x.to(dev), reset.to(dev), topo, w, maxv=False, seed=7, step0=4, backend="cuda")
    safe = margins > MARGIN
    assert safe.sum() > 0.9 * safe.numel()
    assert torch.equal(gpu.codes.cpu()[safe], out.codes[safe])
    assert torch.equal(gpu.codes.cpu(), out.codes)


def test_argument_errors():
    net = _network("numba")
    with pytest.raises(ValueError, match="frames must be"):
        net.run(np.zeros((2, 1, 7, 7), np.uint8))
    with pytest.raises(ValueError, match="mode must be"):
        net.run(np.zeros((2, 1, 2, 8, 8), np.uint8), mode="argmax")
    with pytest.raises(ValueError, match="reset must be"):
        net.run(np.zeros((2, 1, 2, 8, 8), np.uint8), reset=np.zeros((3, 1)))
    topo, w = net.topology, net.weights
    x = torch.zeros(2, 1, topo.n_in, dtype=torch.uint8)
    reset = torch.ones(2, 1, dtype=torch.uint8)
    with pytest.raises(TypeError, match="uint8"):
        csa_frames(x.float(), reset, topo, w)
    with pytest.raises(ValueError, match="state.prev"):
        csa_frames(x, reset, topo, w, initial_state(topo, 2))
    with pytest.raises(ValueError, match="backend"):
        csa_frames(x, reset, topo, w, backend="jax")
    with pytest.raises(ValueError, match="g_minus"):
        CSAParams(g_minus=1.0)
    with pytest.raises(ValueError, match="gamma"):
        CSAParams(gamma=1.5)
    with pytest.raises(ValueError, match="max_active"):
        Level(Q=2, K=2, min_active=3, max_active=2)
    with pytest.raises(ValueError, match="does not fit"):
        SparseyNetwork((4, 4), [Level(Q=2, K=2, rf=(5, 2))])


PTX_SCRIPT = r"""
import re, types
import numpy as np, numba
import numba.cuda.dispatcher as dispatcher
from numba import cuda
dispatcher.get_current_device = lambda: types.SimpleNamespace(compute_capability=(9, 0))
from neuro.kernels import sparsey_cuda as kc
B, U, M, C, T = 2, 30, 3, 9, 2
mi, mf = np.zeros((M, 21), np.int64), np.zeros((M, 8))
src, w = np.zeros(10, np.int64), np.zeros(100, np.uint8)
prev, code = np.zeros((B, U), np.uint8), np.zeros((B, C), np.int32)
age, gmem, su = np.zeros((B, M), np.int32), np.zeros((B, M)), np.zeros((B, U), np.int64)
g_out, ev = np.zeros((T, B, M)), np.zeros((T, B, M), np.int8)
x, reset = np.zeros((T, B, 5), np.uint8), np.zeros((T, B), np.uint8)
ones, frozen = np.zeros((M, 3), np.int64), np.zeros((M, 3), np.uint8)
cases = {"choose": (kc.choose_level, (0, 0, mi, mf, src, w, prev, prev, code, age, gmem, su, su, su,
                                      np.zeros((B, C)), g_out, ev, 3, 0, True, False)),
         "learn": (kc.learn_level, (0, 0, mi, mf, src, w, prev, prev, code, ev, ones, frozen)),
         "begin": (kc.begin_frame, (0, x, reset, prev, code, age, gmem, prev)),
         "end": (kc.end_frame, (0, prev, prev, code, np.zeros((T, B, C), np.int32)))}
for name, (kernel, args) in cases.items():
    ptx = cuda.compile_ptx(kernel.py_func, tuple(numba.typeof(a) for a in args), cc=(9, 0))[0]
    bad = re.findall(r"^\s*(?:@%p\d+\s+)?(fma\.|atom(?:\.global)?\.add\.f|call.*__nv_)", ptx, re.M)
    print(name, len(ptx), len(bad))
"""


def test_cuda_kernels_compile_for_a_gpu_without_fma_or_libm():
    """The kernels compile to PTX for compute capability 9.0 (libNVVM on the CPU, no GPU; the
    simulator compiles nothing) with no fused multiply-add, float atomic or libdevice call: the
    arithmetic contract behind the bit-identity claim."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    probe = subprocess.run([sys.executable, "-c", "from numba.cuda.cudadrv import nvvm; nvvm.NVVM()"],
                           env=env, capture_output=True)
    if probe.returncode != 0:
        pytest.skip("libNVVM (CUDA toolkit) is not available to compile PTX")
    run = subprocess.run([sys.executable, "-c", PTX_SCRIPT], env=env, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    rows = [line.split() for line in run.stdout.strip().splitlines()]
    assert [r[0] for r in rows] == ["choose", "learn", "begin", "end"]
    assert all(int(r[1]) > 1000 and int(r[2]) == 0 for r in rows), rows
