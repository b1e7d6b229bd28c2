"""NIR round trips through the peers' importers and exporters.

Where the semantics match, spikes must be identical:

* neuro -> NIR -> snnTorch ``import_from_nir``: feed-forward ``Linear`` + ``LIF`` / ``CubaLIF`` with a
  zero reset and ``>`` (snnTorch's importer hard-codes dt = 1e-4 and builds ``Leaky``/``Synaptic``
  with ``reset_delay=False``; it needs ``r = tau/dt``, i.e. neuro's ``decay_input=False``).
* neuro -> NIR -> SpikingJelly ``import_from_nir``: ``LIF`` (``decay_input`` either way), ``IF``,
  ``CubaLIF``, ``Conv2d``, ``AvgPool2d``, ``Flatten`` with zero reset (SpikingJelly fires on ``>=``,
  NIR on ``>``: equal except on exact ties, so the comparison runs in float64).
* snnTorch ``export_to_nir`` -> neuro: ``Leaky``, ``Synaptic``, ``RLeaky`` with a zero reset and
  ``reset_delay=False`` (their exporter needs per-neuron ``beta``/``threshold`` tensors to pass
  NIR's type check, and an un-batched sample).
* SpikingJelly ``export_to_nir`` -> neuro: the same layer set as above.

Combinations that cannot agree, and why (each demonstrated below):

* snnTorch's importer turns a recurrent block into a subgraph whose *external input is routed into
  ``w_rec``* (edge ``(input, w_rec)`` in ``_create_rnn_subgraph``) and never builds ``RLeaky``, so
  recurrent graphs import wrongly; neuro's ``Recurrent`` equals snnTorch's own ``RLeaky``
  (``tests/test_graph_layers.py``).
* snnTorch's exporter writes ``v_reset = 0`` for every reset mechanism and drops ``reset_delay``:
  their default (subtract, delayed) model and its NIR file are different networks, and neuro
  follows the file.
* SpikingJelly refuses soft (subtract) resets; NIR has none. IF/LIF with ``v_leak != v_reset`` and
  non-uniform parameters are refused by SpikingJelly's importer.
"""

import pytest
import torch
from torch import nn

from neuro.nir import from_nir, to_nir
from neuro.nn import IF, LIF, CubaLIF, Recurrent, Sequential

nir = pytest.importorskip("nir")
DT = 1e-4
ZERO = dict(reset="zero", threshold_op=">", dt=DT)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _step_peer(module, x):
    """Run a peer's stateful GraphModule ``(x_t, state) -> (out, state)`` over time."""
    state, outs = None, []
    with torch.no_grad():
        for x_t in x:
            out, state = module(x_t, state)
            outs.append(out)
    return torch.stack(outs)


def test_neuro_to_snntorch_feedforward():
    pytest.importorskip("snntorch")
    from snntorch.import_nir import import_from_nir

    torch.manual_seed(0)
    net = Sequential(nn.Linear(6, 16), LIF(beta=0.9, **ZERO), nn.Linear(16, 8),
                     CubaLIF(beta=0.85, tau_syn=DT / (1 - 0.7), **ZERO))
    x = torch.rand(60, 4, 6) * 1.5
    want, _ = net(x)
    theirs = _step_peer(import_from_nir(to_nir(net, dt=DT)), x)
    assert want.sum() > 50
    assert torch.equal(theirs, want)


def test_snntorch_recurrent_import_is_wrong_upstream():
    pytest.importorskip("snntorch")
    from snntorch.import_nir import _replace_rnn_subgraph_with_nirgraph

    net = Sequential(nn.Linear(6, 8), Recurrent(LIF(beta=0.9, **ZERO), nn.Linear(8, 8)))
    graph = _replace_rnn_subgraph_with_nirgraph(to_nir(net, dt=DT))
    sub = graph.nodes["1"]
    assert ("1.input", "1.w_rec") in sub.edges  # external input goes through W_rec: not RLeaky


@pytest.mark.parametrize("decay_input", [True, False])
def test_neuro_to_spikingjelly(decay_input):
    pytest.importorskip("spikingjelly")
    from spikingjelly.activation_based.nir_exchange import import_from_nir

    torch.manual_seed(0)
    net = Sequential(nn.Conv2d(2, 4, 3, padding=1), LIF(tau_mem=3e-4, decay_input=decay_input, **ZERO),
                     nn.AvgPool2d(2), nn.Flatten(), nn.Linear(4 * 4 * 4, 16),
                     LIF(tau_mem=5e-4, decay_input=decay_input, **ZERO), nn.Linear(16, 8),
                     CubaLIF(beta=0.8, tau_syn=DT / (1 - 0.6), **ZERO), nn.Linear(8, 4),
                     IF(v_th=0.7, **ZERO)).double()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                m.weight.mul_(3)
    x = (torch.rand(40, 3, 2, 8, 8, dtype=torch.float64) < 0.4).double() * 2
    want, _ = net(x)
    sj = import_from_nir(to_nir(net, dt=DT, input_shape=(2, 8, 8)), dt=DT, dtype=torch.float64,
                         step_mode="s")
    theirs = _step_peer(sj, x)
    assert want.sum() > 10
    assert torch.equal(theirs, want)


def _per_neuron(n, value):
    return torch.full((n,), value)


def test_snntorch_export_to_neuro():
    snn = pytest.importorskip("snntorch")
    from snntorch import utils
    from snntorch.export_nir import export_to_nir

    torch.manual_seed(0)
    opts = dict(init_hidden=True, reset_mechanism="zero", reset_delay=False)
    net = nn.Sequential(
        nn.Linear(6, 16), snn.Leaky(beta=_per_neuron(16, 0.9), threshold=_per_neuron(16, 1.0), **opts),
        nn.Linear(16, 8), snn.Synaptic(alpha=_per_neuron(8, 0.7), beta=_per_neuron(8, 0.85),
                                       threshold=_per_neuron(8, 1.0), **opts),
        nn.Linear(8, 8), snn.RLeaky(beta=0.8, linear_features=8, **opts),
        nn.Linear(8, 4), snn.Leaky(beta=_per_neuron(4, 0.9), threshold=_per_neuron(4, 1.0), **opts))
    graph = export_to_nir(net, torch.rand(6))
    x = torch.rand(60, 4, 6) * 1.5
    utils.reset(net)
    with torch.no_grad():
        theirs = torch.stack([net(x_t) for x_t in x])
    ours, _ = from_nir(graph, dt=DT)(x)
    assert theirs.sum() > 10
    assert torch.equal(ours, theirs)


def test_snntorch_export_loses_subtract_reset():
    snn = pytest.importorskip("snntorch")
    from snntorch import utils
    from snntorch.export_nir import export_to_nir

    torch.manual_seed(0)
    leaky = snn.Leaky(beta=_per_neuron(16, 0.9), threshold=_per_neuron(16, 1.0), init_hidden=True)
    net = nn.Sequential(nn.Linear(6, 16), leaky)  # snnTorch's default: subtract, delayed
    graph = export_to_nir(net, torch.rand(6))
    assert float(graph.nodes["1"].v_reset.max()) == 0.0  # the file claims a reset to 0
    x = torch.rand(80, 4, 6) * 1.5
    utils.reset(net)
    with torch.no_grad():
        theirs = torch.stack([net(x_t) for x_t in x])
    ours, _ = from_nir(graph, dt=DT)(x)
    zero_reset = Sequential(net[0], LIF(beta=float(torch.tensor(0.9)), **ZERO))(x)[0]
    assert torch.equal(ours, zero_reset)  # neuro runs what the file says
    assert not torch.equal(ours, theirs)  # which is not the model snnTorch exported


def test_spikingjelly_export_to_neuro():
    pytest.importorskip("spikingjelly")
    from spikingjelly.activation_based import functional, layer, neuron
    from spikingjelly.activation_based.nir_exchange import export_to_nir

    torch.manual_seed(0)
    net = nn.Sequential(
        layer.Conv2d(2, 4, 3, padding=1), neuron.LIFNode(tau=2.0, v_reset=0.0, decay_input=True),
        layer.AvgPool2d(2), layer.Flatten(), layer.Linear(4 * 4 * 4, 16),
        neuron.LIFNode(tau=3.0, v_reset=0.0, decay_input=False), layer.Linear(16, 8),
        neuron.CUBALIFNode(c_decay=0.6, v_decay=0.8, v_reset=0.0), layer.Linear(8, 4),
        neuron.IFNode(v_reset=0.0)).double()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                m.weight.mul_(3)
    functional.set_step_mode(net, "m")
    x = (torch.rand(30, 3, 2, 8, 8, dtype=torch.float64) < 0.4).double() * 2
    graph = export_to_nir(net, x[:, :1], dt=DT)
    functional.reset_net(net)
    with torch.no_grad():
        theirs = net(x)
    ours, _ = from_nir(graph, dt=DT, dtype=torch.float64)(x)
    assert theirs.sum() > 5
    assert torch.equal(ours, theirs)
