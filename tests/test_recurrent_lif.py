"""The fused recurrent LIF (``Recurrent(LIF-family neuron, nn.Linear(N, N))`` as one kernel per
sequence): equal to the Python-stepped layer (bit for bit when the recurrent sums are exact, to the
stated bound otherwise), CPU equal to CUDA, exact BPTT (float64 gradcheck on both backends), and the
peers' recurrent LIF layers spike for spike (snnTorch ``RLeaky``, Norse ``LIFRecurrentCell``)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from neuro.functional.lif import LIF as LIF_MODEL
from neuro.functional.lif import make_config
from neuro.nn import ALIF, IF, LIF, CubaLIF, Recurrent, RecurrentState
from neuro.nn.recurrent_lif import can_fuse
from neuro.ops.rlif import rlif_scan
from neuro.surrogate import Triangle

T, B, N = 30, 3, 16

NEURONS = {
    "LIF-subtract": lambda be: LIF(N, beta=0.9, backend=be),
    "LIF-snntorch": lambda be: LIF.snntorch(beta=0.9, backend=be, shape=N),
    "IF-zero": lambda be: IF(N, reset="zero", backend=be),
    "CubaLIF-zero": lambda be: CubaLIF(N, alpha=0.8, beta=0.9, reset="zero", backend=be, threshold_op=">"),
    "ALIF": lambda be: ALIF(N, tau_mem=10e-3, beta_adapt=0.5, backend=be, learn_threshold=True),
}


def _linear(dtype, grid: bool, seed: int = 0) -> nn.Linear:
    torch.manual_seed(seed)
    lin = nn.Linear(N, N).to(dtype)
    if grid:  # weights on a 2^-6 grid: every partial sum of the recurrent input is exact
        with torch.no_grad():
            lin.weight.copy_(torch.round(lin.weight * 64) / 64)
            lin.bias.copy_(torch.round(lin.bias * 64) / 64)
    return lin


def _run(make, backend, lin, x, state=None, device="cpu"):
    neuron = make(backend).to(x.dtype).to(device)
    layer = Recurrent(neuron, lin.to(device))
    lin.zero_grad()
    xx = x.clone().to(device).requires_grad_()
    s, st = layer(xx, state)
    w = torch.linspace(0.1, 1, N, dtype=x.dtype, device=device)
    loss = (s * w).sum() + (st.neuron.v ** 2).sum() + st.s.sum()
    loss.backward()
    grads = [xx.grad, lin.weight.grad, lin.bias.grad] + [p.grad for p in neuron.parameters()]
    return [s.detach().cpu(), st.neuron.v.detach().cpu(), st.s.detach().cpu()], [g.cpu() for g in grads]


# every structure in float64, one in float32 too (each dtype and structure compiles its own kernels)
EXACT_CASES = [(name, torch.float64) for name in NEURONS] + [("LIF-subtract", torch.float32)]


@pytest.mark.parametrize(("name", "dtype"), EXACT_CASES, ids=lambda v: str(v).replace("torch.", ""))
def test_fused_equals_stepped_when_sums_are_exact(name, dtype):
    x = torch.rand(T, B, N, dtype=dtype) * 0.6
    lin = _linear(dtype, grid=True)
    assert can_fuse(NEURONS[name]("numba"), lin, x) and not can_fuse(NEURONS[name]("torch"), lin, x)
    (ref, gref), (ker, gker) = _run(NEURONS[name], "torch", lin, x), _run(NEURONS[name], "numba", lin, x)
    assert ref[0].sum() > 50
    for a, b in zip(ref, ker):
        assert torch.equal(a, b)  # spikes, final membrane, last output
    tol = 2e-4 if dtype == torch.float32 else 1e-10
    for a, b in zip(gref, gker):
        torch.testing.assert_close(b, a, rtol=tol, atol=tol * 10)


def test_fused_within_the_bound_for_any_weights():
    """Random float32 weights: the recurrent sums differ from torch's matrix product by rounding
    only (the bound of ``rlif_math``), and no neuron fired on a different step here."""
    x = torch.rand(T, B, N) * 0.6
    lin = _linear(torch.float32, grid=False, seed=3)
    make = NEURONS["LIF-subtract"]
    (ref, _), (ker, _) = _run(make, "torch", lin, x), _run(make, "numba", lin, x)
    assert torch.equal(ref[0], ker[0])
    bound = 16 * 2.0 ** -24 * lin.weight.abs().sum(1).max() * T  # per-step bound, accumulated
    assert (ref[1] - ker[1]).abs().max() <= bound


@pytest.mark.parametrize("name", ["LIF-snntorch", "CubaLIF-zero", "ALIF"])
def test_cuda_equals_cpu(name, cuda_device):
    x = torch.rand(12, 2, N, dtype=torch.float64) * 0.6
    lin = _linear(torch.float64, grid=False, seed=4)
    cpu, gcpu = _run(NEURONS[name], "numba", lin, x)
    gpu, ggpu = _run(NEURONS[name], "cuda", lin, x, device=cuda_device)
    assert cpu[0].sum() > 0
    for a, b in zip(cpu + gcpu[:1], gpu + ggpu[:1]):
        assert torch.equal(a, b)  # spikes, states, input gradient: the kernels' sums in the same order
    for a, b in zip(gcpu[1:], ggpu[1:]):  # weight, bias, parameter gradients: torch reductions over
        torch.testing.assert_close(b, a, rtol=1e-12, atol=1e-12)  # T x B, in cuBLAS's order on a GPU


def test_state_continues_across_calls():
    x = torch.rand(T, B, N, dtype=torch.float64) * 0.6
    lin = _linear(torch.float64, grid=True)
    layer = Recurrent(NEURONS["CubaLIF-zero"]("numba").double(), lin)
    with torch.no_grad():
        s, st = layer(x)
        s1, st1 = layer(x[:11])
        s2, st2 = layer(x[11:], st1)
    assert isinstance(st2, RecurrentState)
    assert torch.equal(torch.cat([s1, s2]), s) and torch.equal(st2.neuron.v, st.neuron.v)


@pytest.mark.parametrize("backend", ["numba", pytest.param("cuda", marks=pytest.mark.cuda)])
def test_gradcheck(backend, request):
    """float64 gradcheck of the op (weights reached through a continuous previous output ``s0``):
    sub-threshold, with a compact surrogate, so every output is smooth. Every input on the CPU
    kernels; on the CUDA kernels (slow under the simulator) the recurrent ones."""
    device = request.getfixturevalue("cuda_device") if backend == "cuda" else "cpu"
    n, b_size, steps = (4, 2, 6) if backend == "numba" else (3, 1, 3)
    gen = torch.Generator().manual_seed(5)
    cfg = make_config(LIF_MODEL, surrogate=Triangle(10.0))
    f64 = dict(dtype=torch.float64, device=device)
    x = (torch.rand(steps, b_size, n, generator=gen, dtype=torch.float64) * 0.1).to(device)
    w = (torch.randn(n, n, generator=gen, dtype=torch.float64) * 0.2).to(device)
    b = (torch.rand(n, generator=gen, dtype=torch.float64) * 0.05).to(device)
    prm = torch.tensor([[0.0], [1.0], [0.9], [1.0], [0.0], [1.0], [0.0], [0.0], [0.0]], **f64).repeat(1, n)
    zeros = torch.zeros(b_size, n, **f64)
    v0 = (torch.rand(b_size, n, generator=gen, dtype=torch.float64) * 0.2).to(device)
    s0 = torch.rand(b_size, n, generator=gen, dtype=torch.float64).to(device)
    args = dict(x=x, w=w, b=b, prm=prm, v0=v0, s0=s0)
    checked = list(args) if backend == "numba" else ["w", "b", "v0", "s0"]

    def f(*values):
        a = {**args, **dict(zip(checked, values))}
        return rlif_scan(a["x"], a["w"], a["b"], a["prm"], zeros, a["v0"], zeros, a["s0"], cfg,
                         backend=backend).v_last
    assert rlif_scan(x, w, b, prm, zeros, v0, zeros, s0, cfg, backend=backend).spikes.sum() == 0
    inputs = [args[k].clone().requires_grad_() for k in checked]
    assert torch.autograd.gradcheck(f, inputs, eps=1e-6, atol=1e-7, rtol=1e-5)


def test_falls_back_to_python_steps_when_it_cannot_fuse():
    x = torch.rand(5, 2, N)
    conv_like = nn.Sequential(nn.Linear(N, N))
    assert not can_fuse(LIF(N), conv_like, x)
    assert not can_fuse(LIF(N), nn.Linear(N, N), x.double())  # weight dtype differs
    s, st = Recurrent(LIF(N), conv_like)(x)  # still runs (stepped)
    assert s.shape == x.shape and st.s.shape == (2, N)


@pytest.mark.parametrize("backend", ["numba", "torch"])
def test_equals_snntorch_rleaky(backend):
    """``Recurrent(LIF.snntorch(beta), nn.Linear(N, N))`` is snnTorch's ``RLeaky(beta,
    linear_features=N)`` (all-to-all; float32: RLeaky's spikes are float32 whatever its dtype).
    snnTorch sums ``(beta U + x) + W s``, neuro ``beta U + (x + W s)``: the same spikes, membranes and
    gradients up to that rounding."""
    snn = pytest.importorskip("snntorch")
    torch.manual_seed(6)
    x = torch.rand(T, B, N) * 0.6
    theirs = snn.RLeaky(beta=0.9, linear_features=N)
    lin = nn.Linear(N, N)
    lin.load_state_dict(theirs.recurrent.state_dict())
    ours = Recurrent(LIF.snntorch(beta=0.9, shape=N, backend=backend), lin)

    xt, xo = x.clone().requires_grad_(), x.clone().requires_grad_()
    spk, mem = theirs.init_rleaky()
    spikes, mems = [], []
    for x_t in xt:
        spk, mem = theirs(x_t, spk, mem)
        spikes.append(spk)
        mems.append(mem)
    spikes, mems = torch.stack(spikes), torch.stack(mems)
    s, st = ours(xo)
    assert spikes.sum() > 50
    assert torch.equal(s, spikes)
    torch.testing.assert_close(st.neuron.v, mems[-1], rtol=1e-5, atol=1e-5)
    w = torch.linspace(0.1, 1, N)
    ((spikes * w).sum() + (mems[-1] ** 2).sum()).backward()
    ((s * w).sum() + (st.neuron.v ** 2).sum()).backward()
    for a, b in ((xt.grad, xo.grad), (theirs.recurrent.weight.grad, lin.weight.grad),
                 (theirs.recurrent.bias.grad, lin.bias.grad)):
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("backend", ["numba", "torch"])
def test_equals_norse_lif_recurrent_cell(backend):
    """Norse's ``LIFRecurrentCell`` (``i += W_in z_in + W_rec z_rec``, Euler, ``>``, reset to
    ``v_reset``) is ``Recurrent(CubaLIF, nn.Linear(N, N, bias=False))`` on ``W_in z_in``, with the
    arguments of ``CubaLIF.norse`` and ``detach_reset=True``: Norse's recurrent step detaches its reset,
    its feed-forward ``LIFCell`` does not. Spikes identical; states and gradients to rounding (Norse
    sums ``(i + W_in z) + W_rec z``)."""
    norse = pytest.importorskip("norse.torch")
    from neuro.nn import presets

    torch.manual_seed(0)
    M = 10
    z_in = (torch.rand(T, B, M) < 0.3).float()
    cell = norse.LIFRecurrentCell(M, N, p=norse.LIFParameters(), autapses=True)
    lin = nn.Linear(N, N, bias=False)
    with torch.no_grad():
        lin.weight.copy_(cell.recurrent_weights)
    w_in = cell.input_weights.detach().clone().requires_grad_()
    ours = Recurrent(CubaLIF(**{**presets.norse_lif(shape=N, backend=backend), "detach_reset": True}), lin)

    za, zb = z_in.clone().requires_grad_(), z_in.clone().requires_grad_()
    state, spikes = None, []
    for z_t in za:
        z, state = cell(z_t, state)
        spikes.append(z)
    spikes = torch.stack(spikes)
    s, st = ours(torch.nn.functional.linear(zb, w_in))
    assert spikes.sum() > 30
    assert torch.equal(s, spikes)
    torch.testing.assert_close(st.neuron.v, state.v, rtol=1e-5, atol=1e-5)
    w = torch.linspace(0.1, 1, N)
    ((spikes * w).sum() + (state.v ** 2).sum()).backward()
    ((s * w).sum() + (st.neuron.v ** 2).sum()).backward()
    for a, b in ((za.grad, zb.grad), (cell.input_weights.grad, w_in.grad),
                 (cell.recurrent_weights.grad, lin.weight.grad)):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-4)
