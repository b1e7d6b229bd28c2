"""ELM / Branch-ELM: parameter counts, kernels vs the torch reference, gradcheck, routing, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from neuro.kernels import elm_cpu, elm_math
from neuro.nn import ELM, ELMCell
from neuro.nn.elm import interlocking_indices, neuronio_routing, num_trainable_parameters
from neuro.ops import elm as E
from neuro.ops import elm_autograd as A
from neuro.ops.elm import ELMState

# Branch-ELM on NeuronIO (d_in 1278, d_tree 45, d_brch 100, 2 outputs): d_m -> trainable parameters,
# the README table of AaronSpieler/elmneuron (verified against its model_stats.json, spec section 1.4)
NEURONIO_PARAMS = {1: 4601, 2: 4708, 3: 4823, 5: 5077, 7: 5363, 10: 5852, 15: 6827, 20: 8002,
                   25: 9377, 30: 10952, 40: 14702, 50: 19252, 75: 34127, 100: 54002}


def test_branch_elm_neuronio_parameter_counts():
    counts = {d_m: num_trainable_parameters(
        ELM(1278, 2, d_m, num_branches=45, synapses_per_branch=100, routing="neuronio",
            tau_mem_range=(1.0, 150.0))) for d_m in NEURONIO_PARAMS}
    assert counts == NEURONIO_PARAMS


def test_learnable_tau_adds_one_parameter_per_memory_unit():
    fixed = ELM(1278, 2, 20, num_branches=45, synapses_per_branch=100, routing="neuronio")
    learned = ELM(1278, 2, 20, num_branches=45, synapses_per_branch=100, routing="neuronio",
                  learn_tau_mem=True)
    assert num_trainable_parameters(learned) == num_trainable_parameters(fixed) + 20 == 8022


def test_defaults_follow_the_authors_code():
    elm = ELM(12, 3, 10)
    assert elm.lam == 5.0 and elm.dt == 1.0 and elm.version == 1
    assert [layer.out_features for layer in elm.mlp] == [20, 10]  # one hidden layer of 2 d_m
    assert elm.mlp[0].in_features == 12 + 10
    assert torch.all(elm.w_syn == 0.5) and torch.all(elm.tau_syn == 5.0)
    assert not elm.tau_mem_logit.requires_grad
    tau = elm.tau_mem.double()
    expected = torch.logspace(math.log10(1 + 1e-6), math.log10(1000 - 1e-6), 10, dtype=torch.float64)
    assert torch.allclose(tau, expected, rtol=1e-5)


# ------------------------------------------------------------------------------------------------
# Routing


def test_neuronio_routing_interlocks_and_windows():
    assert interlocking_indices(6).tolist() == [0, 3, 1, 4, 2, 5]
    route, valid = neuronio_routing(1278, 45, 100)
    stride = math.ceil(1278 / 45)
    assert stride == 29 and route.shape == (4500,) and valid.shape == (4500,)
    inter = interlocking_indices(1278)
    for j in (0, 7, 44):  # branch j reads positions j*stride + 0..99 of the interlocked inputs
        pos = torch.arange(100) + j * stride
        ok = pos < 1278
        assert torch.equal(valid[j * 100:(j + 1) * 100], ok)
        assert torch.equal(route[j * 100:(j + 1) * 100][ok], inter[pos[ok]])
    assert set(route[valid].tolist()) == set(range(1278))  # every input reaches a branch
    assert int((~valid).sum()) == 45 * 100 - int(valid.sum())


def test_random_routing_is_seeded_and_saved():
    a = ELM(20, 2, 4, num_branches=5, synapses_per_branch=3, routing="random", routing_seed=3)
    b = ELM(20, 2, 4, num_branches=5, synapses_per_branch=3, routing="random", routing_seed=3)
    assert torch.equal(a.route, b.route) and a.route.max() < 20
    c = ELM(20, 2, 4, num_branches=5, synapses_per_branch=3, routing="random", routing_seed=4)
    c.load_state_dict(a.state_dict())
    assert torch.equal(c.route, a.route)


# ------------------------------------------------------------------------------------------------
# Kernels vs reference


def _grads(elm: ELM, x: torch.Tensor, state: ELMState, backend: str) -> dict:
    elm.backend = backend
    elm.zero_grad(set_to_none=True)
    x = x.clone().requires_grad_(True)
    state = ELMState(state.syn.clone().requires_grad_(True), state.mem.clone().requires_grad_(True))
    result = elm.scan(x, state)
    loss = (result.y ** 2).sum() + (result.state.syn * 0.7).sum() + result.mem[::3].sum()
    loss.backward()
    out = {name: p.grad.clone() for name, p in elm.named_parameters() if p.grad is not None}
    out.update(y=result.y.detach(), mem=result.mem.detach(), syn_last=result.state.syn.detach(),
               x=x.grad, syn0=state.syn.grad, mem0=state.mem.grad)
    return out


def _assert_same(ref: dict, got: dict, rtol: float, atol: float) -> None:
    assert set(ref) == set(got)
    for name in ref:
        torch.testing.assert_close(got[name], ref[name], rtol=rtol, atol=atol,
                                   msg=lambda m, name=name: f"{name}: {m}")


def _with_path(elm: ELM, path: str) -> ELM:
    elm.cfg = E.ELMConfig(**{**elm.cfg.__dict__, "input_path": path})
    return elm


CASES = [  # version, routing, (d_tree, d_brch), d_m, mlp_layers, activation, lam, learn_tau, tau_syn
    (1, None, (12, 1), 5, 1, "relu", 5.0, False, 5.0),
    (1, "random", (4, 5), 3, 2, "silu", 2.5, True, None),
    (1, "neuronio", (4, 4), 7, 1, "relu", 10.0, True, 3.0),
    (2, None, (12, 1), 5, 2, "relu", 5.0, True, 5.0),
    (2, "random", (4, 5), 1, 1, "silu", 0.5, False, None),
    (2, "neuronio", (3, 4), 4, 3, "relu", 5.0, False, 2.0),
]


def _make(case, dtype=torch.float64) -> tuple[ELM, torch.Tensor, ELMState]:
    version, routing, (nb, d), d_m, layers, act, lam, learn, tau_syn = case
    n_trace = nb * d if version == 1 else nb
    if tau_syn is None:  # per-trace time constants (no event path)
        tau_syn = 1.0 + 4.0 * torch.rand(n_trace)
    elm = ELM(12, 3, d_m, num_branches=nb, synapses_per_branch=d, routing=routing, version=version,
              mlp_layers=layers, activation=act, lam=lam, learn_tau_mem=learn, tau_syn=tau_syn,
              tau_mem_range=(1.0, 40.0), routing_seed=1).to(dtype)
    with torch.no_grad():  # make every synapse matter, some weights negative (ReLU-clipped)
        elm.w_syn_raw.uniform_(-0.2, 1.0)
    x = (torch.rand(17, 3, 12) < 0.3).to(dtype) * torch.rand(17, 3, 12, dtype=dtype) * 2
    state = ELMState(torch.randn(3, n_trace, dtype=dtype), torch.randn(3, d_m, dtype=dtype))
    return elm, x, state


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"v{c[0]}-{c[1]}-dm{c[3]}-L{c[4]}-{c[5]}")
def test_numba_kernels_match_reference_float64(case):
    elm, x, state = _make(case)
    ref = _grads(elm, x, state, "torch")
    paths = ("dense", "events") if elm.cfg.uniform_syn_decay else ("dense",)
    for path in paths:
        _assert_same(ref, _grads(_with_path(elm, path), x, state, "numba"), rtol=1e-10, atol=1e-12)


def test_numba_kernels_match_reference_float32():
    elm, x, state = _make(CASES[0], torch.float32)
    ref = _grads(elm, x, state, "torch")
    for path in ("dense", "events"):
        _assert_same(ref, _grads(_with_path(elm, path), x, state, "numba"), rtol=1e-4, atol=1e-5)


def test_memory_kernel_batch_tiles_agree():
    """Tiles of 1 (axpy loops) and 4 (BLAS products, m*n*k >= BLAS_MIN_WORK), with a ragged last tile,
    compute the same recurrence."""
    rng = np.random.default_rng(0)
    T, B, H, M = 9, 6, 48, 24
    assert 1 * H * M < elm_cpu.BLAS_MIN_WORK <= 4 * H * M
    u = rng.standard_normal((T, B, H))
    w_in_t, w_out_t = rng.standard_normal((M, H)) * 0.4, rng.standard_normal((H, M)) * 0.4
    w_hid_t, b_hid = rng.standard_normal((1, H, H)) * 0.3, rng.standard_normal((1, H))
    kappa = np.exp(-1 / np.linspace(2, 30, M))
    gain, m0, b_out = 5 * (1 - kappa), rng.standard_normal((B, M)), rng.standard_normal(M)
    consts = np.array(elm_math.CONSTS)
    results = []
    for tile in (1, 4):
        m_seq, z_seq, d_seq = np.empty((T, B, M)), np.empty((2, T, B, H)), np.empty((T, B, M))
        elm_cpu.run_batch_parallel(elm_cpu.memory_forward, B, tile, u, w_in_t, w_hid_t, b_hid, w_out_t,
                                   b_out, kappa, gain, m0, consts, elm_math.ACT_RELU, True, m_seq, z_seq,
                                   d_seq)
        outs = [np.empty((T, B, H)), np.empty((1, T, B, H)), np.empty((T, B, M)),
                np.zeros((B, M)), np.zeros((B, M)), np.empty((B, M))]
        elm_cpu.run_batch_parallel(elm_cpu.memory_backward, B, tile, np.ones((T, B, M)), m_seq, z_seq,
                                   d_seq, m0, np.ascontiguousarray(w_in_t.T),
                                   np.ascontiguousarray(w_hid_t.transpose(0, 2, 1)),
                                   np.ascontiguousarray(w_out_t.T), kappa, gain, consts, elm_math.ACT_RELU,
                                   *outs)
        results.append([m_seq, z_seq, d_seq, *outs])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_auto_input_path_uses_events_for_sparse_input_only():
    sparse, dense = (torch.rand(40, 2, 70) < 0.03).float(), torch.rand(40, 2, 70)
    elm = ELM(70, 2, 10)
    w = elm.weights()
    assert E._use_events(sparse, w, elm.cfg, "numba") and not E._use_events(dense, w, elm.cfg, "numba")
    assert not E._use_events(sparse, w, elm.cfg, "cuda")  # the GPU always takes the dense path
    per_synapse_tau = ELM(70, 2, 10, tau_syn=torch.linspace(2, 8, 70))
    assert not E._use_events(sparse, per_synapse_tau.weights(), per_synapse_tau.cfg, "numba")


def test_sequence_split_with_state_equals_whole_sequence():
    elm, x, _ = _make(CASES[2])
    for backend in ("torch", "numba"):
        elm.backend = backend
        y, state = elm(x)
        y1, s1 = elm(x[:8])
        y2, s2 = elm(x[8:], s1)
        torch.testing.assert_close(torch.cat([y1, y2]), y, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(s2.mem, state.mem, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(s2.syn, state.syn, rtol=1e-12, atol=1e-12)


def test_cell_steps_equal_the_sequence_module():
    elm, x, state = _make(CASES[3])
    cell = ELMCell(12, 3, 5, num_branches=12, version=2, mlp_layers=2, learn_tau_mem=True,
                   tau_mem_range=(1.0, 40.0)).double()
    cell.load_state_dict(elm.state_dict())
    s = state
    ys = []
    for x_t in x.unbind(0):
        y_t, s = cell(x_t, s)
        ys.append(y_t)
    elm.backend = "numba"
    y, final = elm(x, state)
    torch.testing.assert_close(torch.stack(ys), y, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(s.mem, final.mem, rtol=1e-12, atol=1e-12)


def test_memory_stays_bounded_by_lambda_times_amplitude():
    """v1: |dm| <= 1.7159 and m_t is a convex mix of m_{t-1}/lam-scaled increments -> |m| <= 1.7159 lam."""
    elm = ELM(20, 2, 8, lam=3.0, tau_mem_range=(1.0, 30.0))
    with torch.no_grad():
        elm.mlp[-1].bias.fill_(50.0)  # saturate the tanh
    with torch.no_grad():
        _, state = elm(torch.rand(300, 4, 20) * 10)
        result = elm.scan(torch.rand(300, 4, 20) * 10, state)
    assert float(result.mem.abs().max()) <= 3.0 * 1.7159 + 1e-5
    assert float(result.mem.abs().max()) > 3.0 * 1.7159 * 0.99  # and it gets there


# ------------------------------------------------------------------------------------------------
# gradcheck (float64, small sizes) of each autograd op


def _small_memory_inputs(layers: int):
    T, B, H, M = 4, 2, 5, 3
    g = torch.Generator().manual_seed(0)

    def r(*shape, scale=0.5):
        return (torch.randn(*shape, generator=g, dtype=torch.float64) * scale).requires_grad_(True)

    kappa = torch.rand(M, generator=g, dtype=torch.float64).mul(0.5).add(0.4).requires_grad_(True)
    gain = torch.rand(M, generator=g, dtype=torch.float64).add(0.5).requires_grad_(True)
    return (r(T, B, H), r(H, M), r(layers - 1, H, H), r(layers - 1, H), r(M, H), r(M), kappa, gain,
            r(B, M))


@pytest.mark.parametrize("act,layers", [(elm_math.ACT_RELU, 1), (elm_math.ACT_SILU, 2)])
def test_gradcheck_memory_op(act, layers):
    inputs = _small_memory_inputs(layers)
    assert torch.autograd.gradcheck(lambda *a: A.MemoryFunction.apply(*a, act, "numba"), inputs)


@pytest.mark.parametrize("per_synapse,routed", [(True, True), (False, True), (True, False)])
def test_gradcheck_trace_op(per_synapse, routed):
    T, B, nb, d = 5, 2, 3, 2
    S = nb * d
    D = 4 if routed else S
    x = torch.rand(T, B, D, dtype=torch.float64, requires_grad=True)
    w = torch.rand(S, dtype=torch.float64, requires_grad=True)
    n_trace = S if per_synapse else nb
    s0 = torch.randn(B, n_trace, dtype=torch.float64, requires_grad=True)
    route = torch.tensor([0, 3, 1, 1, 2, 3]) if routed else None
    kappa = torch.rand(n_trace, dtype=torch.float64) * 0.9
    assert torch.autograd.gradcheck(
        lambda x, w, s0: A.TraceFunction.apply(x, w, s0, route, kappa, per_synapse, nb, "numba"),
        (x, w, s0))


def test_gradcheck_event_trace_op():
    T, B, D, H = 6, 2, 4, 3
    x = ((torch.rand(T, B, D) < 0.5) * torch.rand(T, B, D)).double().requires_grad_(True)
    w = torch.randn(D, H, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(H, dtype=torch.float64, requires_grad=True)
    v0 = torch.randn(B, H, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda *a: A.EventTraceFunction.apply(*a, 0.8), (x, w, bias, v0))


@pytest.mark.parametrize("path", ["dense", "events"])
def test_gradcheck_whole_elm_on_kernels(path):
    elm = ELM(6, 2, 2, num_branches=3, synapses_per_branch=3, routing="random", routing_seed=0,
              mlp_hidden=3, version=2, input_path=path).double()
    base = elm.weights()

    def run(x, w_syn, kappa_mem, w_first, w_last, w_out):
        w = base._replace(w_syn=w_syn, kappa_mem=kappa_mem, gain_mem=5.0 * (1 - kappa_mem),
                          mlp_weights=(w_first, w_last), w_out=w_out)
        result = E.elm_scan(x, w, elm.cfg, backend="numba")
        return result.y, result.state.syn

    x = torch.rand(5, 2, 6, dtype=torch.float64)
    inputs = tuple(t.detach().clone().requires_grad_(True)
                   for t in (x, base.w_syn, base.kappa_mem, *base.mlp_weights, base.w_out))
    assert torch.autograd.gradcheck(run, inputs)


# ------------------------------------------------------------------------------------------------
# CUDA kernels (Numba's CUDA simulator in CI, the GPU when present)


@pytest.mark.parametrize("case", [CASES[1], CASES[5]], ids=["v1-random-silu-L2", "v2-neuronio-L3"])
def test_cuda_kernels_match_reference(case, cuda_device):
    elm, x, state = _make(case)
    x, state = x[:4], state
    elm, x, state = elm.to(cuda_device), x.to(cuda_device), state.to(cuda_device)
    ref = _grads(elm, x, state, "torch")
    _assert_same(ref, _grads(elm, x, state, "cuda"), rtol=1e-10, atol=1e-12)


# ------------------------------------------------------------------------------------------------
# Bad input


def test_constructor_rejects_bad_configuration():
    with pytest.raises(ValueError, match="must equal in_features"):
        ELM(700, 20, 10, num_branches=100, synapses_per_branch=15)  # no routing, 1500 synapses
    with pytest.raises(ValueError, match="in_features must be even"):
        ELM(7, 2, 3, num_branches=2, synapses_per_branch=4, routing="neuronio")
    with pytest.raises(ValueError, match=r"synapses_per_branch >= ceil"):
        ELM(1278, 2, 3, num_branches=45, synapses_per_branch=20, routing="neuronio")
    with pytest.raises(ValueError, match="tau_syn must be positive"):
        ELM(4, 2, 3, tau_syn=0.0)
    with pytest.raises(ValueError, match="tau_syn must be positive"):
        ELM(4, 2, 3, tau_syn=torch.tensor([1.0, -2.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match="tau_mem_range"):
        ELM(4, 2, 3, tau_mem_range=(10.0, 1.0))
    with pytest.raises(ValueError, match="tau_mem_range"):
        ELM(4, 2, 3, tau_mem_range=(-1.0, 10.0))
    with pytest.raises(ValueError, match="tau_mem_init"):
        ELM(4, 2, 3, tau_mem_range=(1.0, 10.0), tau_mem_init=(0.0, 5.0))
    for lam in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="lam"):
            ELM(4, 2, 3, lam=lam)
    with pytest.raises(ValueError, match="dt"):
        ELM(4, 2, 3, dt=0.0)
    with pytest.raises(ValueError, match="mlp_layers"):
        ELM(4, 2, 3, mlp_layers=0)
    with pytest.raises(ValueError, match="routing"):
        ELM(4, 2, 3, routing="dendritic")
    with pytest.raises(ValueError, match="version"):
        ELM(4, 2, 3, version=3)
    with pytest.raises(ValueError, match="activation"):
        ELM(4, 2, 3, activation="gelu")
    with pytest.raises(ValueError, match="input_path='events' needs one shared"):
        ELM(4, 2, 3, tau_syn=torch.ones(4), input_path="events")


@pytest.mark.parametrize("backend", ["torch", "numba"])
def test_forward_rejects_bad_input(backend):
    elm = ELM(6, 2, 3, backend=backend)
    with pytest.raises(ValueError, match="5 input channels .* in_features=6"):
        elm(torch.zeros(4, 2, 5))
    with pytest.raises(ValueError, match=r"\[T, B, in_features\]"):
        elm(torch.zeros(2, 6))
    with pytest.raises(TypeError, match="floating-point"):
        elm(torch.zeros(4, 2, 6, dtype=torch.uint8))
    with pytest.raises(TypeError, match="dtype"):
        elm(torch.zeros(4, 2, 6, dtype=torch.float64))
    x = torch.zeros(4, 2, 6)
    x[2, 1, 3] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        elm(x)
    with pytest.raises(ValueError, match=r"state.mem has shape \(2, 4\)"):
        elm(torch.zeros(4, 2, 6), ELMState(torch.zeros(2, 6), torch.zeros(2, 4)))
    with pytest.raises(TypeError, match="ELMState"):
        elm(torch.zeros(4, 2, 6), (torch.zeros(2, 6), torch.zeros(2, 3)))
    with pytest.raises(ValueError, match=r"\[B, in_features\]"):
        ELMCell(6, 2, 3)(torch.zeros(4, 2, 6))


def test_unknown_backend_is_rejected():
    with pytest.raises(ValueError, match="backend"):
        ELM(4, 2, 3, backend="jax")
