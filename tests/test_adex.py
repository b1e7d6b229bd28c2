"""AdEx and exponential IF neurons: one copy of the AdEx maths (``aeif_math``'s terms, used by NEST's
``aeif_cond_alpha_astro`` networks and by these training forms), kernels against the torch
reference, CPU against CUDA, float64 gradcheck on both backends, SpikingJelly's EIFNode and Norse's
LIFAdEx spike for spike, and convergence to NEST's ``aeif_psc_delta`` as dt shrinks."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

import adex_cases as C
from neuro.functional.adex import ADEX, EXPIF, AdExState, ExpIFState
from neuro.kernels import adex_math, aeif_math
from neuro.nn import AdEx, ExpIF
from neuro.ops.spec import SpecConfig
from neuro.surrogate import Sigmoid
from spec_cases import run, smooth_outputs, table


def test_one_copy_of_the_adex_terms():
    """The training forms and NEST's aeif right-hand side call the same scalar terms."""
    assert adex_math.exp_spike_current is aeif_math.exp_spike_current
    assert adex_math.adaptation_rate is aeif_math.adaptation_rate
    names = aeif_math.aeif_rhs.__code__.co_names
    assert {"leak_current", "exp_spike_current", "adaptation_rate"} <= set(names)
    assert "exp" not in names  # no second copy of the exponential term
    v, g_l, d_t, v_t = -55.0, 30.0, 2.0, -50.4
    assert aeif_math.exp_spike_current(v, g_l, d_t, v_t) == g_l * d_t * math.exp((v - v_t) / d_t)


def _adex_case(spec, dtype, T, N, C, seed):
    gen = torch.Generator().manual_seed(seed)
    x = 700 + 300 * torch.randn(T, N, dtype=dtype, generator=gen)  # pA: spikes every few ms
    prm = table(spec, {}, C, dtype, gen, jitter=0.05)
    rest = [torch.zeros(N, dtype=dtype)] * (len(spec.states) - 1)
    y0 = torch.stack([torch.full((N,), -70.6, dtype=dtype), *rest])
    return x, prm, y0


@pytest.mark.parametrize("spec", [ADEX, EXPIF], ids=["AdEx", "ExpIF"])
def test_kernels_equal_reference(spec):
    x, prm, y0 = _adex_case(spec, torch.float64, 150, 8, 4, 0)
    cfg = SpecConfig(surrogate=Sigmoid(1.0))
    (ref, gref), (ker, gker) = (run(spec, x, prm, y0, cfg, b, dt=1e-4) for b in ("torch", "numba"))
    assert ref[0].sum() > 20
    assert torch.equal(ref[0], ker[0])  # spikes; exp is torch's against libm's: states to rounding
    for a, b in zip(ref[1:] + gref, ker[1:] + gker):
        torch.testing.assert_close(b, a, rtol=1e-9, atol=1e-9)


def test_cuda_equals_cpu(cuda_device):
    x, prm, y0 = _adex_case(ADEX, torch.float64, 40, 4, 4, 1)
    cpu, gcpu = run(ADEX, x, prm, y0, SpecConfig(), "numba", dt=1e-4)
    gpu, ggpu = run(ADEX, x, prm, y0, SpecConfig(), "cuda", dt=1e-4, device=cuda_device)
    assert cpu[0].sum() > 0
    assert torch.equal(cpu[0], gpu[0])
    for a, b in zip(cpu[1:] + gcpu, gpu[1:] + ggpu):  # libdevice's exp vs libm's: a few ulp on a GPU
        torch.testing.assert_close(b, a, rtol=1e-12, atol=1e-12)


def test_gradcheck():
    """float64 gradcheck on the CPU kernels (the CUDA kernels run the same generated code and are
    checked equal to them; ``test_spec_neuron`` gradchecks the CUDA backend)."""
    backend, device = "numba", "cpu"
    x, prm, y0 = _adex_case(ADEX, torch.float64, 12, 3, 3, 2)
    cfg = SpecConfig(detach_reset=True)
    inputs = [t.to(device).requires_grad_() for t in (x, prm, y0)]
    f = smooth_outputs(ADEX, cfg, backend, dt=1e-4)
    assert torch.autograd.gradcheck(f, inputs, eps=1e-6, atol=1e-6, rtol=1e-5)


def test_spikingjelly_eif_node_spike_for_spike():
    neuron = pytest.importorskip("spikingjelly.activation_based.neuron")
    x = torch.rand(100, 3, 6, dtype=torch.float64) * 1.2
    sj = neuron.EIFNode(tau=2.0, delta_T=1.0, theta_rh=0.8, v_threshold=1.0, v_rest=0.0, v_reset=-0.1,
                        step_mode="m", store_v_seq=True)
    s_sj = sj(x)
    ours = ExpIF.spikingjelly(record_states=True)
    s, trace = ours(x, ExpIFState(torch.full((3, 6), -0.1, dtype=torch.float64)))  # SJ starts at v_reset
    assert s.sum() > 30
    assert torch.equal(s, s_sj)  # the same equation, its sums grouped differently
    torch.testing.assert_close(trace.v, sj.v_seq, rtol=1e-12, atol=1e-12)


def test_norse_lif_adex_spike_for_spike():
    adex = pytest.importorskip("norse.torch.functional.lif_adex")
    dt = 1e-3
    # no synaptic memory (tau_syn_inv = 1 / dt: the current jump decays in one step), so Norse's input
    # current is the input of the step, as neuro's
    f64 = {k: torch.as_tensor(v, dtype=torch.float64) for k, v in adex.LIFAdExParameters()._asdict().items()
           if k not in ("method", "alpha")}  # Norse's defaults in float64 (they are float32 / int64)
    p = adex.LIFAdExParameters(**{**f64, "tau_syn_inv": torch.as_tensor(1.0 / dt, dtype=torch.float64)})
    x = torch.rand(300, 2, 5, dtype=torch.float64) * 3.0
    state = adex.LIFAdExFeedForwardState(*(torch.zeros(2, 5, dtype=torch.float64) for _ in range(3)))
    spikes = []
    for x_t in x:
        z, state = adex.lif_adex_feed_forward_step(x_t, state, p, dt)
        spikes.append(z)
    ours = AdEx(C_m=1e-2, g_L=1.0, E_L=0.0, V_th=1.0, Delta_T=0.5, tau_w=0.5, a=4.0, b=0.02, V_reset=0.0,
                V_peak=1.0, time_unit=1.0, dt=dt, threshold_op=">", record_states=True)
    zeros = torch.zeros(2, 5, dtype=torch.float64)
    s, trace = ours(x, AdExState(zeros, zeros))
    assert s.sum() > 30
    assert torch.equal(s, torch.stack(spikes))
    # Norse scales by dt / tau_mem where neuro divides by C_m: rounding, amplified by the exponential
    # upswing before each spike
    torch.testing.assert_close(trace.v[-1], state.v, rtol=1e-7, atol=1e-7)
    torch.testing.assert_close(trace.w[-1], state.a, rtol=1e-7, atol=1e-7)


def test_modules():
    layer = AdEx(4, learn=("a", "b", "tau_w"), dt=1e-4)
    s, st = layer(torch.full((200, 2, 4), 800.0))
    assert isinstance(st, AdExState) and s.sum() > 0
    (s.sum() + st.w.sum()).backward()
    assert layer.b.grad is not None and layer.tau_w.grad.abs().sum() > 0
    assert ExpIF().V_peak == 0.0 and "Delta_T=2" in repr(ExpIF())
    with pytest.raises(ValueError, match="Delta_T must be positive"):
        AdEx(Delta_T=0.0)
    with pytest.raises(ValueError, match="soft reset"):
        ExpIF.spikingjelly(v_reset=None)


ADEX_NEST = (Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "adex_nest" / "summary.json")


@pytest.mark.parametrize("case", [C.CASES[0], C.CASES[2]], ids=lambda c: c["name"])
def test_converges_to_nest_aeif(case):
    """Euler at dt against NEST's RKF45 ``aeif_psc_delta`` (stored spike times, made by
    ``benchmarks/adex_nest.py``): the same spikes, the spike-time error falling with dt (first order)."""
    if not ADEX_NEST.exists():
        pytest.skip(f"{ADEX_NEST} is absent (python benchmarks/adex_nest.py makes it)")
    rows = {r["case"]: r for r in json.loads(ADEX_NEST.read_text())["cases"]}
    ref = np.asarray(rows[case["name"]]["nest_spike_times_ms"])
    coarse, fine = C.compare(C.neuro_run(case, 0.01), ref), C.compare(C.neuro_run(case, 0.001), ref)
    assert coarse["neuro_spikes"] == fine["neuro_spikes"] == len(ref) >= 5
    assert fine["max_abs_dt_ms"] < 0.05 and fine["max_abs_dt_ms"] < coarse["max_abs_dt_ms"] / 5
