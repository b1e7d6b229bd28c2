"""Layers added for NIR (Scale, Threshold, SumPool2d, Integrator), Recurrent and the Graph executor.

Integrator kernels are compared with the torch reference (and the CUDA kernels under the simulator);
a NIR cycle executed by ``Graph`` must equal the ``Recurrent`` layer bit for bit, and ``Recurrent``
must equal snnTorch's own ``RLeaky`` (zero reset, no reset delay).
"""

import pytest
import torch
from torch import nn

from neuro.nn import (
    IF,
    LI,
    LIF,
    CubaLIF,
    Graph,
    Integrator,
    Recurrent,
    Scale,
    Sequential,
    SumPool2d,
    Threshold,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_integrator_kernels_match_reference(cuda_device):
    x = torch.randn(40, 3, 5, dtype=torch.float64)
    r = torch.linspace(0.5, 1.5, 5, dtype=torch.float64)
    want = torch.cumsum(x * r, 0)
    for backend, device in (("torch", "cpu"), ("numba", "cpu"), ("cuda", cuda_device)):
        out, state = Integrator(5, r=r, backend=backend).double().to(device)(x.to(device))
        torch.testing.assert_close(out.cpu(), want, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(state.v.cpu(), want[-1])
    a, _ = Integrator(5, r=r, backend="torch").double()(x)
    b, _ = Integrator(5, r=r, backend="numba").double()(x)
    assert torch.equal(a, b)  # same operations, same order


def test_integrator_gradcheck():
    x = torch.randn(6, 2, 3, dtype=torch.float64, requires_grad=True)
    layer = Integrator(3, r=0.7, backend="numba").double()
    assert torch.autograd.gradcheck(lambda x: layer(x)[0], (x,))


def test_sumpool_scale_threshold():
    x = torch.arange(2 * 1 * 4 * 4, dtype=torch.float64).view(2, 1, 4, 4)
    pooled = SumPool2d(2, padding=1)(x)
    padded = nn.functional.pad(x, (1, 1, 1, 1))
    manual = padded.unfold(2, 2, 2).unfold(3, 2, 2).sum((-1, -2))
    assert torch.equal(pooled, manual)
    assert torch.equal(Scale(torch.tensor([1.0, -2.0]))(torch.ones(3, 2)), torch.tensor([[1.0, -2.0]] * 3))
    h = torch.tensor([0.4, 0.5, 0.6], requires_grad=True)
    s = Threshold(0.5)(h)
    assert s.tolist() == [0.0, 0.0, 1.0]  # NIR: fires when x > threshold
    s.sum().backward()
    assert bool((h.grad > 0).all())  # surrogate gradient


def _recurrent_pair(neuron, n=8, n_in=4):
    torch.manual_seed(1)
    fc, rec = nn.Linear(n_in, n), nn.Linear(n, n)
    seq = Sequential(fc, Recurrent(neuron, rec))
    graph = Graph({"fc": fc, "lif": neuron, "w_rec": rec},
                  [("in", "fc"), ("fc", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "out")],
                  ["in"], ["out"], input_shapes={"in": (n_in,)},
                  node_shapes={"fc": ((n_in,), (n,)), "lif": ((n,), (n,)), "w_rec": ((n,), (n,))})
    return seq, graph


@pytest.mark.parametrize("make", [
    lambda: CubaLIF(beta=0.9, tau_syn=5e-3, reset="zero", threshold_op=">", backend="numba"),
    lambda: LIF(tau_mem=10e-3, reset="subtract", backend="numba"),
    lambda: IF(v_th=2.0, reset="zero", backend="numba"),
])
def test_graph_cycle_equals_recurrent(make):
    seq, graph = _recurrent_pair(make())
    assert graph.back_edges == {("w_rec", "lif")}
    x = torch.rand(40, 3, 4) * 2
    want, _ = seq(x)
    got, state = graph(x)
    assert want.sum() > 20
    assert torch.equal(got, want)
    first, s1 = graph(x[:15])  # continuing from the returned state gives the same sequence
    rest, _ = graph(x[15:], s1.detach())
    assert torch.equal(torch.cat([first, rest]), want)


def test_recurrent_gradcheck():
    torch.manual_seed(0)
    layer = Recurrent(LI(tau_mem=5e-3, backend="numba"), nn.Linear(3, 3)).double()
    x = torch.randn(5, 2, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: layer(x)[0], (x,))


def test_recurrent_matches_snntorch_rleaky():
    snn = pytest.importorskip("snntorch")
    torch.manual_seed(0)
    n = 12
    rleaky = snn.RLeaky(beta=0.85, linear_features=n, reset_mechanism="zero", reset_delay=False)
    ours = Recurrent(LIF(beta=float(torch.tensor(0.85)), reset="zero", threshold_op=">",
                         backend="numba"), rleaky.recurrent)
    x = torch.rand(60, 4, n) * 1.2
    spk, mem = rleaky.init_rleaky()
    theirs = []
    with torch.no_grad():
        for x_t in x:
            spk, mem = rleaky(x_t, spk, mem)
            theirs.append(spk)
        got, _ = ours(x)
    theirs = torch.stack(theirs)
    assert theirs.sum() > 50
    assert torch.equal(got, theirs)


def test_graph_multiple_inputs_outputs_and_stateless_cycle():
    a, b = nn.Linear(3, 3, bias=False).double(), Scale(0.5).double()
    g = Graph({"a": a, "b": b}, [("x", "a"), ("y", "b"), ("a", "b"), ("b", "a"), ("a", "o1"),
                                 ("b", "o2")], ["x", "y"], ["o1", "o2"],
              node_shapes={"a": ((3,), (3,)), "b": ((3,), (3,))})
    assert g.back_edges == {("b", "a")}
    x, y = torch.randn(5, 2, 3, dtype=torch.float64), torch.randn(5, 2, 3, dtype=torch.float64)
    out, _ = g({"x": x, "y": y})
    b_prev = torch.zeros(2, 3, dtype=torch.float64)  # Scale applied to a zero input
    for t in range(5):  # NIR one-step semantics, by hand
        a_t = a(x[t] + b_prev)
        b_prev = 0.5 * (y[t] + a_t)
        assert torch.equal(out["o1"][t], a_t)
        assert torch.equal(out["o2"][t], b_prev)


def test_graph_rejects_bad_structure():
    lin = nn.Linear(2, 2)
    with pytest.raises(ValueError, match="refers to 'nope'"):
        Graph({"l": lin}, [("in", "l"), ("l", "nope")], ["in"], ["out"])
    with pytest.raises(ValueError, match="'out' has no incoming edge"):
        Graph({"l": lin}, [("in", "l")], ["in"], ["out"])
    with pytest.raises(ValueError, match="unique"):
        Graph({"in": lin}, [("in", "in")], ["in"], ["out"])
    g = Graph({"l": lin}, [("in", "l"), ("l", "out")], ["in"], ["out"], input_shapes={"in": (2,)})
    with pytest.raises(ValueError, match="expects feature shape"):
        g(torch.zeros(3, 1, 5))


def test_fold_batch_norm_matches_eval_mode():
    import torch
    from torch import nn

    from neuro.nn import LIF, Sequential
    from neuro.nn.fold import fold_batch_norm

    torch.manual_seed(3)
    net = Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), LIF(), nn.Flatten(),
                     nn.Linear(4 * 5 * 5, 3, bias=False), nn.BatchNorm1d(3))
    with torch.no_grad():  # non-trivial running statistics and affine parameters
        for bn in (net[1].layer, net[5].layer):
            bn.running_mean.uniform_(-0.5, 0.5)
            bn.running_var.uniform_(0.5, 2.0)
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-0.2, 0.2)
    net.eval()
    folded = fold_batch_norm(net)
    assert len(folded) == 4 and not any(isinstance(m.layer, nn.BatchNorm2d) for m in folded.layers
                                        if hasattr(m, "layer"))
    x = torch.rand(6, 2, 2, 5, 5)
    torch.testing.assert_close(folded(x)[0], net(x)[0], rtol=1e-5, atol=1e-5)
    assert fold_batch_norm(folded) is folded
    with __import__("pytest").raises(ValueError, match="must follow a Linear or Conv"):
        fold_batch_norm(Sequential(nn.BatchNorm1d(3), nn.Linear(3, 3)))
