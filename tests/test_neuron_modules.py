"""The module API: shapes, states, per-neuron and learnable parameters, cells, containers."""

import pytest
import torch

from neuro.functional import LIF as LIF_MODEL
from neuro.functional import LIFState, NeuronParameters, coefficients
from neuro.nn import (
    ALIF,
    IF,
    LI,
    LIF,
    ALIFCell,
    CubaLI,
    CubaLIF,
    CubaLIFCell,
    IFCell,
    LICell,
    LIFCell,
    Sequential,
    TimeDistributed,
    detach_states,
)

PAIRS = [(IF, IFCell, {}), (LIF, LIFCell, dict(tau_mem=5e-3)),
         (CubaLIF, CubaLIFCell, dict(tau_mem=5e-3, tau_syn=2e-3)),
         (ALIF, ALIFCell, dict(tau_mem=5e-3, tau_adapt=50e-3, beta_adapt=0.5)),
         (LI, LICell, dict(tau_mem=5e-3))]


@pytest.mark.parametrize("seq_cls,cell_cls,kw", PAIRS, ids=[p[0].__name__ for p in PAIRS])
def test_cell_loop_equals_scan(seq_cls, cell_cls, kw):
    x = torch.randn(30, 3, 4, 5, dtype=torch.float64) * 0.6 + 0.3
    out_seq, state_seq = seq_cls(**kw)(x)
    cell, state, outs = cell_cls(**kw), None, []
    for x_t in x.unbind(0):
        o, state = cell(x_t, state)
        outs.append(o)
    assert torch.equal(torch.stack(outs), out_seq)
    for a, b in zip(state, state_seq):
        assert torch.equal(a, b)


def test_conv_feature_maps_and_per_channel_parameters():
    tau = torch.tensor([2e-3, 5e-3, 20e-3]).view(3, 1, 1)
    lif = LIF(tau_mem=tau, v_th=0.5)
    x = torch.rand(10, 2, 3, 8, 8)
    spikes, state = lif(x)
    assert spikes.shape == x.shape and state.v.shape == x.shape[1:]
    # per-channel taus: the fast channel forgets, so it spikes less under the same drive
    rate = spikes.mean(dim=(0, 1, 3, 4))
    assert rate[0] < rate[2]


def test_state_continuation_equals_one_call():
    x = torch.randn(40, 2, 7) + 0.5
    lif = ALIF(tau_mem=5e-3, tau_adapt=30e-3)
    full, _ = lif(x)
    first, state = lif(x[:17])
    second, _ = lif(x[17:], state)
    assert torch.equal(torch.cat([first, second]), full)


def test_learnable_parameters_get_gradients_and_stay_positive():
    lif = LIF(shape=6, tau_mem=10e-3, learn_tau=True, learn_threshold=True, integration="exact")
    names = {n for n, _ in lif.named_parameters()}
    assert names == {"log_tau_mem", "v_th"}
    x = torch.rand(20, 4, 6) * 2
    spikes, _ = lif(x)
    spikes.sum().backward()
    assert lif.log_tau_mem.grad.abs().sum() > 0 and lif.v_th.grad.abs().sum() > 0
    assert torch.all(lif.tau_mem > 0)
    # the same gradients through the torch reference
    ref = LIF(shape=6, tau_mem=10e-3, learn_tau=True, learn_threshold=True, integration="exact",
              backend="torch")
    ref(x)[0].sum().backward()
    torch.testing.assert_close(lif.log_tau_mem.grad, ref.log_tau_mem.grad, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(lif.v_th.grad, ref.v_th.grad, rtol=1e-4, atol=1e-5)


def test_record_states_returns_traces():
    lif = CubaLIF(tau_mem=5e-3, tau_syn=3e-3, record_states=True)
    x = torch.rand(12, 2, 3)
    spikes, trace = lif(x)
    assert trace.i.shape == x.shape and trace.v.shape == x.shape
    _, final = CubaLIF(tau_mem=5e-3, tau_syn=3e-3)(x)
    for a, b in zip(trace.last(), final):
        assert torch.equal(a, b)
    with pytest.raises(ValueError, match="recorded state sequence"):
        CubaLIF(tau_mem=5e-3, tau_syn=3e-3)(x, trace)


def test_li_outputs_membrane_and_cuba_li():
    x = torch.rand(8, 2, 3)
    v, state = LI(tau_mem=4e-3)(x)
    assert v.shape == x.shape and torch.equal(v[-1], state.v)
    v2, state2 = CubaLI(tau_mem=4e-3, tau_syn=2e-3)(x)
    assert v2.shape == x.shape and state2.i.shape == x.shape[1:]


def test_if_integrates_without_leak():
    x = torch.full((5, 1, 1), 0.3)
    spikes, state = IF(v_th=1.0)(x)
    assert spikes.flatten().tolist() == [0, 0, 0, 1, 0]
    assert torch.allclose(state.v, torch.tensor([[0.5]]))


def test_sequential_threads_states_and_folds_time():
    net = Sequential(torch.nn.Conv2d(2, 4, 3, padding=1), LIF(tau_mem=5e-3), torch.nn.Flatten(),
                     torch.nn.Linear(4 * 6 * 6, 3), LI(tau_mem=5e-3))
    x = torch.rand(7, 2, 2, 6, 6)
    out, states = net(x)
    assert out.shape == (7, 2, 3)
    assert [type(s).__name__ for s in states] == ["NoneType", "LIFState", "NoneType", "NoneType",
                                                  "LIState"]
    out2, _ = net(x, detach_states(states))
    assert out2.shape == out.shape
    with pytest.raises(ValueError, match="entries"):
        net(x, states[:2])
    assert isinstance(net[0], TimeDistributed)


def test_half_precision_inputs_keep_fp32_state():
    x = torch.rand(6, 2, 3)
    ref, _ = LIF(tau_mem=5e-3)(x)
    for dtype in (torch.float16, torch.bfloat16):
        out, state = LIF(tau_mem=5e-3)(x.to(dtype))
        assert out.dtype == dtype and state.v.dtype == torch.float32
        assert torch.equal(out.float(), LIF(tau_mem=5e-3)(x.to(dtype).float())[0])
    assert ref.dtype == torch.float32


def test_coefficients_follow_the_documented_discretisation():
    p = NeuronParameters(tau_mem=10e-3, dt=1e-3, v_leak=0.2, r=2.0, decay_input=True)
    prm = coefficients(LIF_MODEL, p, (3,), torch.float64, torch.device("cpu"))
    alpha, gi, beta, gv, c, th = prm[:6, 0].tolist()
    assert beta == pytest.approx(0.9) and gv == pytest.approx(2.0 * 0.1) and c == pytest.approx(0.02)
    exact = coefficients(LIF_MODEL, p.replace(integration="exact"), (3,), torch.float64,
                         torch.device("cpu"))
    assert exact[2, 0].item() == pytest.approx(float(torch.exp(torch.tensor(-0.1))))


def test_initial_state_rests_at_v_leak():
    lif = LIF(v_leak=-0.3)
    state = lif.initial_state(torch.zeros(2, 4))
    assert isinstance(state, LIFState) and torch.all(state.v == -0.3)
