"""The numerics contract of the kernel families that are not bit-identical across targets.

Each test runs the same inputs through the CPU kernels (``numba``) and the CUDA kernels (on the
``cuda_device``: a GPU, or the CPU under Numba's CUDA simulator) and checks the stated bound of
the family (module docstrings of ``neuro.kernels.delay_cuda``, ``elm_cuda``, ``astrocyte_cuda``):

* delays: sums of products in different orders, ``|dy| <= 2 gamma_n sum |c| |x|``; the Gaussian
  taps add the ``exp`` difference;
* ELM: a first-order running error bound through the memory recurrence and the traces;
* tripartite models: ``k * 64 u * max|y|`` after ``k`` steps, and the same spikes.

Bounds are computed in float64 from a reference run's magnitudes; every tensor of a CUDA run is
built on the test's device and results are compared after ``.cpu()``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import astro_cases as C
import neuro.ops.delay as D
from neuro.backends import cuda_simulator_enabled
from neuro.kernels import elm_math
from neuro.ops.elm_autograd import MemoryFunction, TraceFunction

# small torch ops around each kernel: a second torch thread only contends on a shared 2-core machine
pytestmark = pytest.mark.usefixtures("one_torch_thread")

UNIT = {torch.float32: 2.0 ** -24, torch.float64: 2.0 ** -53}
DTYPES = [torch.float32, torch.float64]


def gamma(n: int, u: float) -> float:
    """Higham's ``gamma_n = n u / (1 - n u)``: the error factor of a sum of ``n`` terms."""
    return n * u / (1 - n * u)


def _both(fn, cuda_device):
    """``fn(device, backend)`` on the CPU kernels and on the CUDA kernels, results on the CPU."""
    cpu = fn(torch.device("cpu"), "numba")
    gpu = fn(torch.device(cuda_device), "cuda")
    return cpu, [t.cpu() for t in gpu]


def _within(name: str, a: torch.Tensor, b: torch.Tensor, bound: torch.Tensor) -> None:
    diff = (a.detach().double() - b.detach().double()).abs()
    worst = float((diff - bound).max())
    assert worst <= 0.0, (f"{name}: |cuda - cpu| exceeds the bound by {worst:.3g} "
                          f"(max diff {float(diff.max()):.3g})")


# ------------------------------------------------------------------------------------------------
# Delays


@pytest.mark.parametrize("dtype", DTYPES)
def test_delay_tap_sums_within_the_summation_bound(cuda_device, dtype):
    # few synapses: the coefficient gradient's kernel is a block of 32 threads per (tap, output row),
    # each a Python thread under the CUDA simulator; the sums stay long (T + extra steps x B samples)
    T, B, n_in, n_out, K, extra = 24, 5, 4, 3, 9, 2
    gen = torch.Generator().manual_seed(1)
    w = torch.randn(n_out, n_in, 2, generator=gen, dtype=torch.float64)
    p = (torch.rand(n_out, n_in, 2, generator=gen, dtype=torch.float64) - 0.5) * (K - 1)
    taps = D.rounded_taps(w, p, K)
    x = torch.randn(T, B, n_in, generator=gen, dtype=torch.float64)
    g = torch.randn(T + extra, B, n_out, generator=gen, dtype=torch.float64)

    def run(device, backend):
        conn = D.dense_connectivity(n_in, n_out, device)
        xd = x.to(device, dtype).requires_grad_()
        coef = taps.coef.to(device, dtype).requires_grad_()
        y = D.delay_taps(xd, D.Taps(coef, taps.delays.to(device), taps.r_per_syn), conn, K - 1, extra,
                         backend=backend)
        gx, gc = torch.autograd.grad(y, (xd, coef), g.to(device, dtype))
        return y.detach(), gx, gc

    (y_c, gx_c, gc_c), (y_g, gx_g, gc_g) = _both(run, cuda_device)
    # magnitudes: the same linear maps on |x|, |coef| and |g| (float64, torch oracle)
    xa = x.abs().requires_grad_()
    ca = taps.coef.abs().requires_grad_()
    conn = D.dense_connectivity(n_in, n_out)
    mag_y = D.delay_taps_reference(xa, D.Taps(ca, taps.delays, taps.r_per_syn), conn, K - 1, extra)
    mag_gx, mag_gc = torch.autograd.grad(mag_y, (xa, ca), g.abs())
    u = UNIT[dtype]
    n_taps, n_elems = taps.coef.shape[1], (T + extra) * 8 * -(-B // 8)
    _within("y", y_g, y_c, 2 * gamma(n_taps, u) * mag_y.detach())
    _within("dx", gx_g, gx_c, 2 * gamma(n_out * taps.r_per_syn, u) * mag_gx)
    _within("dcoef", gc_g, gc_c, 2 * gamma(n_elems, u) * mag_gc)


def _gauss_scales(w, p, sig, K, W, g_coef):
    """Per element: ``|coef|`` and the absolute-term scales of ``gw``, ``gp``, ``gs`` (float64)."""
    q = p + K // 2
    s = sig.abs() + 0.27
    n0 = torch.clamp(torch.round(q - (W - 1) / 2), 0, K - W)
    n = n0.unsqueeze(-1) + torch.arange(W, dtype=torch.float64)
    uu = (n - q.unsqueeze(-1)) / s.unsqueeze(-1)
    g = torch.exp(-0.5 * uu * uu)
    z = g.sum(-1) + 1e-7
    gc = g_coef.view(*w.shape, W)
    a_abs, bq_abs, bs_abs = ((gc * g * uu ** k).abs().sum(-1) for k in range(3))
    zq_abs, zs_abs = (g * uu.abs()).sum(-1), (g * uu * uu).sum(-1)
    coef = (w.unsqueeze(-1) * g / z.unsqueeze(-1)).abs()
    lead = w.abs() / (z * s)
    return coef, a_abs / z, lead * (bq_abs + a_abs * zq_abs / z), lead * (bs_abs + a_abs * zs_abs / z)


@pytest.mark.parametrize("dtype", DTYPES)
def test_gaussian_taps_within_the_exp_bound(cuda_device, dtype):
    if dtype == torch.float32 and cuda_simulator_enabled():
        # Numba types ``int - float32`` as float64 (the taps' exponents are float64 on both targets);
        # the simulator runs the kernel as Python with NumPy 2's rules (float32), a third rounding
        pytest.skip("the CUDA simulator evaluates the float32 tap exponents in float32")
    n_out, n_in, KC, K, sigma = 4, 5, 3, 25, 0.4
    gen = torch.Generator().manual_seed(2)
    w = torch.randn(n_out, n_in, KC, generator=gen, dtype=torch.float64)
    p = (torch.rand(n_out, n_in, KC, generator=gen, dtype=torch.float64) - 0.5) * (K - 2)
    sig = sigma + 0.2 * torch.rand(n_out, n_in, KC, generator=gen, dtype=torch.float64)
    W = D.gaussian_window(sig.to(dtype), w.to(dtype), K)
    g_coef = torch.randn(n_out, n_in * KC * W, generator=gen, dtype=torch.float64)

    def run(device, backend):
        wd, pd, sd = (t.to(device, dtype).requires_grad_() for t in (w, p, sig))
        taps = D.gaussian_taps(wd, pd, sd, K, backend=backend)
        grads = torch.autograd.grad(taps.coef, (wd, pd, sd), g_coef.to(device, dtype))
        return (taps.coef.detach(), taps.delays, *grads)

    (c_c, d_c, *g_c), (c_g, d_g, *g_g) = _both(run, cuda_device)
    assert torch.equal(d_c, d_g)  # the windows: no transcendental function involved
    coef_abs, *scales = _gauss_scales(w, p, sig, K, W, g_coef)
    u = UNIT[dtype]
    _within("coef", c_g, c_c, (2 * W + 20) * u * coef_abs.reshape(n_out, -1))
    for name, a, b, scale in zip(("d weight", "d position", "d sigma"), g_g, g_c, scales):
        _within(name, a, b, (8 * W + 64) * u * scale)


# ------------------------------------------------------------------------------------------------
# ELM


def _act(z, act):
    return torch.nn.functional.silu(z) if act == elm_math.ACT_SILU else torch.relu(z)


def memory_bound(u_in, w_in, w_hid, b_hid, w_last, b_last, kappa, gain, m0, act, unit):
    """First-order bound on ``|m_cuda - m_cpu|`` for every step (``elm_cuda`` docstring), float64."""
    H, M = w_in.shape
    slope, eps_act = (1.1, 16 * unit) if act == elm_math.ACT_SILU else (1.0, 0.0)
    amp, sl = elm_math.TANH_AMPLITUDE, elm_math.TANH_SLOPE
    g_in, g_h = 2 * gamma(M + 1, unit), 2 * gamma(H + 1, unit)
    m, e = m0, torch.zeros_like(m0)
    bounds = []
    for t in range(u_in.shape[0]):
        mp = kappa * m
        e_mp = kappa * e + 2 * unit * mp.abs()
        z = u_in[t] + mp @ w_in.t()
        e_z = e_mp @ w_in.abs().t() + g_in * (u_in[t].abs() + mp.abs() @ w_in.abs().t())
        a = _act(z, act)
        e_a = slope * e_z + eps_act * a.abs()
        for k in range(w_hid.shape[0]):
            z = b_hid[k] + a @ w_hid[k].t()
            e_z = e_a @ w_hid[k].abs().t() + g_h * (b_hid[k].abs() + a.abs() @ w_hid[k].abs().t())
            a = _act(z, act)
            e_a = slope * e_z + eps_act * a.abs()
        zo = b_last + a @ w_last.t()
        e_zo = e_a @ w_last.abs().t() + g_h * (b_last.abs() + a.abs() @ w_last.abs().t())
        d = amp * torch.tanh(sl * zo)
        e_d = amp * sl * (e_zo + 2 * unit * zo.abs()) + 16 * unit * amp + 2 * unit * d.abs()
        m = mp + gain * d
        e = e_mp + gain * e_d + 4 * unit * (mp.abs() + (gain * d).abs())
        bounds.append(e)
    return torch.stack(bounds)


@pytest.mark.parametrize("dtype,act", [(torch.float32, elm_math.ACT_RELU),
                                       (torch.float64, elm_math.ACT_SILU)])
def test_elm_memory_recurrence_within_the_running_bound(cuda_device, dtype, act):
    T, B, H, M, n_hid = 40, 3, 24, 10, 1
    gen = torch.Generator().manual_seed(3)

    def rnd(*shape, scale=1.0):
        return scale * torch.randn(*shape, generator=gen, dtype=torch.float64)

    u_in = rnd(T, B, H)
    w_in, w_hid, b_hid = rnd(H, M, scale=0.3), rnd(n_hid, H, H, scale=0.2), rnd(n_hid, H, scale=0.1)
    w_last, b_last = rnd(M, H, scale=0.2), rnd(M, scale=0.1)
    kappa = torch.exp(-1 / torch.linspace(2, 40, M, dtype=torch.float64))
    gain, m0 = 2 * (1 - kappa), rnd(B, M)
    args = (u_in, w_in, w_hid, b_hid, w_last, b_last, kappa, gain, m0)

    def run(device, backend):
        return [MemoryFunction.apply(*(a.to(device, dtype) for a in args), act, backend)]

    (m_c,), (m_g,) = _both(run, cuda_device)
    _within("memory", m_g, m_c, memory_bound(*args, act, UNIT[dtype]))


@pytest.mark.parametrize("dtype", DTYPES)
def test_elm_traces_within_the_running_bound(cuda_device, dtype):
    T, B, D_in, nb, d = 30, 3, 9, 4, 5
    S = nb * d
    gen = torch.Generator().manual_seed(4)
    x = (torch.rand(T, B, D_in, generator=gen, dtype=torch.float64) < 0.3).double()
    x = x * torch.rand(T, B, D_in, generator=gen, dtype=torch.float64)
    route = torch.randint(0, D_in, (S,), generator=gen)
    w_syn = torch.randn(S, generator=gen, dtype=torch.float64)
    kappa = torch.exp(-1 / torch.linspace(2, 20, S, dtype=torch.float64))
    s0 = torch.randn(B, S, generator=gen, dtype=torch.float64)

    def run(device, backend):
        return TraceFunction.apply(x.to(device, dtype), w_syn.to(device, dtype), s0.to(device, dtype),
                                   route.to(device), kappa.to(device, dtype), True, nb, backend)

    (b_c, s_c), (b_g, s_g) = _both(run, cuda_device)
    u = UNIT[dtype]
    s, e = s0, torch.zeros_like(s0)
    bounds = []
    for t in range(T):  # s_t = kappa s + w x: one or two roundings per target
        drive = w_syn * x[t][:, route]
        e = kappa * e + 4 * u * ((kappa * s).abs() + drive.abs())
        s = kappa * s + drive
        bounds.append(e.view(B, nb, d).sum(-1) + 2 * gamma(d, u) * s.abs().view(B, nb, d).sum(-1))
    _within("branch inputs", b_g, b_c, torch.stack(bounds))
    _within("final traces", s_g, s_c, e)


# ------------------------------------------------------------------------------------------------
# Tripartite models (AdEx neurons and Li-Rinzel astrocytes)


def test_tripartite_network_within_the_step_bound(cuda_device):
    ms = 40.0
    record = dict(record_interval=C.DT, record_neurons=("V_m", "w", "g_ex", "I_SIC"),
                  record_astrocytes=("IP3", "Ca_astro", "h_IP3R", "SIC"))
    cpu = C.build_network("numba").run(ms, **record)
    gpu = C.build_network("cuda").run(ms, **record)
    assert len(cpu.spike_times) >= 3
    assert np.array_equal(cpu.spike_times, gpu.spike_times)
    assert np.array_equal(cpu.spike_senders, gpu.spike_senders)
    for group_c, group_g in ((cpu.neurons, gpu.neurons), (cpu.astrocytes, gpu.astrocytes)):
        for name, ref in group_c.items():
            steps = np.arange(1, ref.shape[0] + 1).reshape(-1, *([1] * (ref.ndim - 1)))
            bound = steps * 64 * UNIT[torch.float64] * np.abs(ref).max()
            diff = np.abs(group_g[name] - ref)
            assert (diff <= bound).all(), f"{name}: max |cuda - cpu| {diff.max():.3g}"
