"""The GPU delay design (``neuro.kernels.delay_cuda`` tile kernels, ``neuro.ops._delay_cuda``).

* The tile kernels (all-to-all window taps, batch blocks of 32) against the torch oracle: output,
  input gradient and coefficient gradient within the summation bound of the delay family
  (``|dy| <= 2 gamma_n sum |c| |x|``), through ``delay_taps`` and through the Gaussian taps' weight and
  position gradients; shapes with ragged edges (batch, inputs, outputs, steps, several elements per
  synapse). The tests check that the tile path really ran.
* Determinism (fixed-order sums, no atomics): two runs are bit-identical.
* The element kernels stay the default; ``NEURO_DELAY_CUDA_KERNEL=tile`` selects the tile kernels
  (``=element`` the first ones).
* The cost model: TF32 vs fp32 changes the dense path's rate; the table is documented.
* The PTX (compiled on the CPU, no GPU needed): the tile kernels keep their tiles in registers (no
  local memory), have no float atomics and no FMA beyond the explicit ones.

CUDA tests run on the ``cuda_device`` (a GPU, or the CPU under Numba's CUDA simulator).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import neuro.ops.delay as D
from neuro.ops import _delay_cuda as G

# small torch ops around each kernel: a second torch thread only contends on a shared 2-core machine
pytestmark = pytest.mark.usefixtures("one_torch_thread")

UNIT = {torch.float32: 2.0 ** -24, torch.float64: 2.0 ** -53}


def gamma(n: int, u: float) -> float:
    return n * u / (1 - n * u)


@pytest.fixture
def tile_calls(monkeypatch):
    """Selects the tile kernels (opt-in until measured on a GPU) and counts their launches."""
    monkeypatch.setenv("NEURO_DELAY_CUDA_KERNEL", "tile")
    calls = {"gather": 0, "dot": 0}
    gather, dot = G.CudaRunner.tile_gather, G.CudaRunner.tile_dot

    def counting_gather(*args):
        calls["gather"] += 1
        return gather(*args)

    def counting_dot(*args):
        calls["dot"] += 1
        return dot(*args)

    monkeypatch.setattr(G.CudaRunner, "tile_gather", staticmethod(counting_gather))
    monkeypatch.setattr(G.CudaRunner, "tile_dot", staticmethod(counting_dot))
    return calls


# (T, B, inputs, outputs, K, kernel_count, sigma or None for integer delays)
CASES = [(9, 5, 7, 5, 9, 1, 0.3), (7, 33, 5, 3, 6, 2, 0.2), (8, 3, 6, 4, 7, 1, None)]


def _run(case, dtype, device, backend):
    T, B, n_in, n_out, K, KC, sigma = case
    gen = torch.Generator().manual_seed(3)
    w = torch.randn(n_out, n_in, KC, generator=gen, dtype=torch.float64)
    p = (torch.rand(n_out, n_in, KC, generator=gen, dtype=torch.float64) - 0.5) * (K - 1)
    x = torch.randn(T, B, n_in, generator=gen, dtype=torch.float64)
    taps64 = D.rounded_taps(w, p, K) if sigma is None else D.gaussian_taps(w, p, sigma, K)
    extra = (K - 1) // 2
    g = torch.randn(T + extra, B, n_out, generator=gen, dtype=torch.float64)
    conn = D.dense_connectivity(n_in, n_out, torch.device(device))
    xd = x.to(device, dtype).requires_grad_()
    coef = taps64.coef.to(device, dtype).requires_grad_()
    taps = D.Taps(coef, taps64.delays.to(device), taps64.r_per_syn, taps64.window)
    y = D.delay_taps(xd, taps, conn, K - 1, extra, backend=backend)
    gx, gc = torch.autograd.grad(y, (xd, coef), g.to(device, dtype))
    # float64 oracle and the magnitudes of the same maps on |x|, |coef|, |g|
    ref = D.delay_taps_reference(x, taps64, D.dense_connectivity(n_in, n_out), K - 1, extra)
    xa, ca = x.abs().requires_grad_(), taps64.coef.abs().requires_grad_()
    mag = D.delay_taps_reference(xa, D.Taps(ca, taps64.delays, taps64.r_per_syn), D.dense_connectivity(
        n_in, n_out), K - 1, extra)
    xr, cr = x.clone().requires_grad_(), taps64.coef.clone().requires_grad_()
    ref_y = D.delay_taps_reference(xr, D.Taps(cr, taps64.delays, taps64.r_per_syn),
                                   D.dense_connectivity(n_in, n_out), K - 1, extra)
    ref_gx, ref_gc = torch.autograd.grad(ref_y, (xr, cr), g)
    mag_gx, mag_gc = torch.autograd.grad(mag, (xa, ca), g.abs())
    terms = (taps64.coef.shape[1], n_out * taps64.r_per_syn, (T + extra) * 32 * -(-B // 32))
    return ((y, gx, gc), (ref, ref_gx, ref_gc), (mag.detach(), mag_gx, mag_gc), terms)


@torch.no_grad()
def _within(name, got, ref, mag, n, dtype):
    bound = 2 * gamma(n, UNIT[dtype]) * mag + 2 * UNIT[dtype] * ref.abs()  # + the final rounding
    diff = (got.cpu().double() - ref).abs()
    worst = float((diff - bound).max())
    assert worst <= 0, f"{name}: exceeds the bound by {worst:.3g} (max diff {float(diff.max()):.3g})"


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("case", CASES, ids=["gauss", "gauss-kc2-b33", "integer"])
def test_tile_kernels_match_the_oracle(cuda_device, tile_calls, case, dtype):
    got, ref, mag, terms = _run(case, dtype, cuda_device, "cuda")
    assert tile_calls == {"gather": 2, "dot": 1}, "the tile kernels did not run"
    for name, a, r, m, n in zip(("y", "dx", "dcoef"), got, ref, mag, terms):
        _within(name, a, r, m, n, dtype)


def test_tile_kernels_are_deterministic(cuda_device, tile_calls):
    first, _, _, _ = _run(CASES[1], torch.float32, cuda_device, "cuda")
    second, _, _, _ = _run(CASES[1], torch.float32, cuda_device, "cuda")
    for a, b in zip(first, second):
        assert torch.equal(a.detach().cpu(), b.detach().cpu())


def test_gaussian_layer_gradients_through_the_tile_kernels(cuda_device, tile_calls):
    """``delay_linear``'s weight and position gradients on the tile path vs the torch oracle."""
    gen = torch.Generator().manual_seed(5)
    T, B, n_in, n_out, K = 10, 6, 5, 4, 9
    w = torch.randn(n_out, n_in, 1, generator=gen, dtype=torch.float64)
    p = (torch.rand(n_out, n_in, 1, generator=gen, dtype=torch.float64) - 0.5) * (K - 1)
    x = torch.randn(T, B, n_in, generator=gen, dtype=torch.float64)
    out = {}
    conn = D.dense_connectivity(n_in, n_out)
    for backend, device in (("torch", "cpu"), ("cuda", cuda_device)):
        wd, pd = (t.to(device).requires_grad_() for t in (w, p))
        taps = D.gaussian_taps(wd, pd, 0.25, K, backend=backend)  # the same window on both
        y = D.delay_taps(x.to(device), taps, D.dense_connectivity(n_in, n_out, torch.device(device)), K - 1,
                         (K - 1) // 2, backend=backend)
        grads = torch.autograd.grad(y.square().sum(), (wd, pd))
        out[backend] = (y.detach().cpu(), *(t.cpu() for t in grads))
    del conn
    assert tile_calls == {"gather": 1, "dot": 1}  # x needs no gradient here
    for a, b, name in zip(out["torch"], out["cuda"], ("y", "d weight", "d position")):
        torch.testing.assert_close(b, a, rtol=1e-10, atol=1e-10, msg=name)


# CASES[0] with 3 inputs and 2 outputs: the element kernels' coefficient gradient is a block per
# (tap, output row), 32 Python threads each under the CUDA simulator (5 x fewer blocks than CASES[0])
ELEMENT_CASE = (9, 5, 3, 2, 9, 1, 0.3)


def test_element_kernels_are_selectable(cuda_device, tile_calls, monkeypatch):
    monkeypatch.setenv("NEURO_DELAY_CUDA_KERNEL", "element")
    got, ref, mag, terms = _run(ELEMENT_CASE, torch.float64, cuda_device, "cuda")
    assert tile_calls == {"gather": 0, "dot": 0}
    for name, a, r, m, n in zip(("y", "dx", "dcoef"), got, ref, mag, terms):
        _within(name, a, r, m, n, torch.float64)
    monkeypatch.setenv("NEURO_DELAY_CUDA_KERNEL", "fast")
    with pytest.raises(ValueError, match="NEURO_DELAY_CUDA_KERNEL must be one of"):
        G.kernel_choice()


def test_tile_plan_falls_back_where_tiles_do_not_apply(monkeypatch):
    pytest.importorskip("numba.cuda")
    monkeypatch.delenv("NEURO_DELAY_CUDA_KERNEL", raising=False)
    assert G.tile_plan(True, 5, 5, 24, torch.float32) is None  # the element kernels are the default
    monkeypatch.setenv("NEURO_DELAY_CUDA_KERNEL", "tile")
    assert G.tile_plan(True, 5, 5, 24, torch.float32) is not None
    assert G.tile_plan(False, 5, 5, 24, torch.float32) is None  # not all-to-all
    assert G.tile_plan(True, G.W_MAX + 1, G.W_MAX + 1, 24, torch.float32) is None
    assert G.tile_plan(True, 5, 7, 24, torch.float32) is None  # taps not in whole windows


def test_cost_model_follows_the_allowed_precision(monkeypatch):
    monkeypatch.delenv("NEURO_DELAY_CUDA_KERNEL", raising=False)
    assert G.dense_advantage() == G.ELEMENT_DENSE_ADVANTAGE  # the default: the first design's model
    assert D.choose_method(3, 25, "cuda") == "sparse" and D.choose_method(4, 25, "cuda") == "dense"
    monkeypatch.setenv("NEURO_DELAY_CUDA_KERNEL", "tile")
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    fp32 = G.dense_advantage()
    assert fp32 == G.GPU_COST["dense_fp32"] / G.GPU_COST["tile"]
    assert D.choose_method(5, 25, "cuda") == "sparse"  # sigma-small at K = 25, fp32
    assert D.choose_method(25, 25, "cuda") == "dense"  # sigma-large
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", True)
    assert G.dense_advantage() > fp32  # TF32 convolutions are faster: the dense path wins sooner
    assert D.choose_method(1, 250, "cuda") == "sparse"


# --------------------------------------------------------------------------------------------
# PTX of the tile kernels (a subprocess without the simulator: libNVVM compiles on the CPU)

WORKER = r"""
import json, re, types, numpy as np, numba
from numba import cuda
import numba.cuda.dispatcher as dispatcher
dispatcher.get_current_device = lambda: types.SimpleNamespace(compute_capability=(9, 0))
from neuro.kernels import delay_cuda as dc
from neuro.ops._delay_cuda import TILE, TILE_F64
out = {}
for bits, W, D in [(32, 5, 24), (32, 1, 249), (64, 5, 24)]:
    cfg = TILE if bits == 32 else TILE_F64
    dt = np.float32 if bits == 32 else np.float64
    IC = dc.gather_chunk(bits, cfg.TT, D)
    IC2 = max(1, min(cfg.IC2, dc.SHARED_BYTES // (dc.tile_steps(cfg.TT_DOT, D) * dc.LANES * bits // 8)))
    a2, i2 = (lambda *s: np.zeros(s, dt)), (lambda *s: np.zeros(s, np.int32))
    kernels = {
        "gather": (dc.tile_gather_kernel(bits, W, cfg.TT, cfg.OW, cfg.NW, IC, D),
                   (a2(2, 3, 64), a2(4, 15), i2(4, 15), 1, a2(5), a2(2, 4, 64)), cfg.OW * cfg.TT * W),
        "dot": (dc.tile_dot_kernel(bits, W, cfg.TT_DOT, cfg.OW2, cfg.NW, IC2, 1, D),
                (a2(2, 4, 64), a2(2, 3, 64), i2(4, 15), 2, a2(5), a2(4, 15)), cfg.OW2 * IC2 * W * cfg.TT_DOT),
    }
    for name, (k, args, fmas) in kernels.items():
        ptx = cuda.compile_ptx(k.py_func, tuple(numba.typeof(a) for a in args), cc=(9, 0))[0]
        out[f"{name}/{bits}/W{W}/D{D}"] = {
            "local": len(re.findall(r"(ld|st)\.local", ptx)),
            "fma": len(re.findall(r"^\s*(@%p\d+\s+)?fma\.", ptx, re.M)), "explicit_fma": fmas,
            "float_atomics": len(re.findall(r"(atom|red)(\.global|\.shared)?\.add\.f(32|64)", ptx))}
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def tile_ptx() -> dict:
    pytest.importorskip("numba.cuda")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    probe = subprocess.run([sys.executable, "-c", "from numba.cuda.cudadrv import nvvm; nvvm.NVVM()"],
                           env=env, capture_output=True)
    if probe.returncode != 0:
        pytest.skip("libNVVM is not installed: no PTX to check")
    proc = subprocess.run([sys.executable, "-c", WORKER], env=env, capture_output=True, text=True,
                          timeout=1200, cwd=Path(__file__).resolve().parents[1] / "tests")
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_tile_kernels_keep_their_tiles_in_registers(tile_ptx):
    assert len(tile_ptx) == 6
    for name, stats in tile_ptx.items():
        assert stats["local"] == 0, f"{name}: a register tile spilled to local memory ({stats})"
        assert stats["float_atomics"] == 0, f"{name}: float atomics ({stats})"
        # the only FMAs are the explicit ones of the unrolled tile (one per product), no contraction
        assert stats["fma"] == stats["explicit_fma"], f"{name}: FMA count {stats}"
        assert re.match(r"(gather|dot)/", name)
