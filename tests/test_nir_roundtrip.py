"""neuro -> NIR -> neuro gives identical outputs for every layer type NIR has a node for.

Each model is exported with ``to_nir`` (and written with ``write_nir``, re-read with ``nir.read``
under NIR's own strict type check), imported with ``from_nir`` and run on the same input. The
import uses the exact neuro configuration recorded in ``metadata["neuro"]``; separately, the
standard NIR fields alone (metadata removed, so what any other tool sees) must reproduce the spikes
in float64, which checks the discretisation of ``neuro.nir.discretization``. ``Delay`` nodes come
from per-neuron ``FixedDelay`` layers (in a chain, below); per-synapse ``FixedDelay`` layers go
through the documented subgraph of ``Linear -> Delay`` branches.
"""

import copy
import json

import numpy as np
import pytest
import torch
from torch import nn

from neuro.nir import NIRError, NIRExportWarning, from_nir, to_nir, write_nir
from neuro.nn import (
    ALIF,
    IF,
    LI,
    LIF,
    CubaLI,
    CubaLIF,
    FixedDelay,
    Integrator,
    Recurrent,
    Scale,
    Sequential,
    SumPool2d,
    Threshold,
)

nir = pytest.importorskip("nir")

NIR_LIF = dict(reset="zero", threshold_op=">")  # the semantics NIR can express


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _cases():
    torch.manual_seed(3)
    per_neuron = torch.linspace(4e-3, 9e-3, 7)
    return {
        "affine_lif": (Sequential(nn.Linear(5, 7), LIF(tau_mem=5e-3, **NIR_LIF)), (5,), 2.0),
        "linear_if": (Sequential(nn.Linear(5, 7, bias=False), IF(v_th=1.5, **NIR_LIF)), (5,), 2.0),
        "per_neuron_lif": (Sequential(nn.Linear(5, 7), LIF(7, tau_mem=per_neuron,
                                                          v_th=torch.linspace(0.5, 1.5, 7),
                                                          v_leak=0.1, r=2.0, **NIR_LIF)), (5,), 1.0),
        "exact_no_decay_input": (Sequential(nn.Linear(5, 7), LIF(tau_mem=6e-3, integration="exact",
                                                                 decay_input=False, **NIR_LIF)),
                                 (5,), 1.0),
        "beta_given": (Sequential(nn.Linear(5, 7), LIF(beta=0.8, **NIR_LIF)), (5,), 1.0),
        "cubalif": (Sequential(nn.Linear(4, 6), CubaLIF(tau_mem=8e-3, tau_syn=3e-3, w_in=1.5,
                                                        decay_input=True, **NIR_LIF)), (4,), 3.0),
        "conv1d": (Sequential(nn.Conv1d(2, 3, 3, padding=1), LIF(tau_mem=5e-3, **NIR_LIF)),
                   (2, 10), 2.0),
        "conv2d_groups_stride": (Sequential(nn.Conv2d(2, 4, 3, stride=2, padding=1, groups=2),
                                            LIF(tau_mem=5e-3, **NIR_LIF)), (2, 9, 9), 2.0),
        "pools_flatten": (Sequential(nn.Conv2d(1, 2, 3, padding=1), LIF(tau_mem=5e-3, **NIR_LIF),
                                     SumPool2d(2), nn.AvgPool2d(2), nn.Flatten(),
                                     nn.Linear(2 * 2 * 2, 4), LIF(tau_mem=5e-3, **NIR_LIF)),
                          (1, 8, 8), 3.0),
        "scale_threshold": (Sequential(nn.Linear(4, 6), Scale(torch.linspace(0.5, 2, 6)),
                                       Threshold(torch.linspace(-0.2, 0.3, 6))), (4,), 1.0),
        "li_cubali": (Sequential(nn.Linear(4, 6), LI(tau_mem=5e-3, v_leak=0.1, decay_input=True),
                                 CubaLI(tau_mem=6e-3, tau_syn=2e-3)), (4,), 1.0),
        "integrator": (Sequential(nn.Linear(4, 6), Integrator(r=0.3)), (4,), 1.0),
        "delay_chain": (Sequential(nn.Linear(5, 7), FixedDelay(torch.tensor([0, 1, 2, 3, 5, 8, 3])),
                                   LIF(tau_mem=5e-3, **NIR_LIF), FixedDelay(torch.arange(7) % 3),
                                   nn.Linear(7, 3), LIF(tau_mem=4e-3, **NIR_LIF)), (5,), 3.0),
        "recurrent": (Sequential(nn.Linear(4, 6), Recurrent(CubaLIF(beta=0.9, tau_syn=3e-3, **NIR_LIF),
                                                            nn.Linear(6, 6)),
                                 nn.Linear(6, 3), LIF(tau_mem=5e-3, **NIR_LIF)), (4,), 2.0),
        "nested_subgraph": (Sequential(Sequential(nn.Linear(4, 6), LIF(tau_mem=5e-3, **NIR_LIF)),
                                       nn.Linear(6, 3), LIF(tau_mem=4e-3, **NIR_LIF)), (4,), 3.0),
    }


CASES = _cases()


def _strip_metadata(graph):
    for node in graph.nodes.values():
        node.metadata = {}
        if isinstance(node, nir.NIRGraph):
            _strip_metadata(node)
    return graph


@pytest.mark.parametrize("name", sorted(CASES))
def test_roundtrip_identical(name, tmp_path):
    model, shape, gain = CASES[name]
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(30, 3, *shape, generator=gen) * gain
    want, _ = model(x)
    graph = to_nir(model, input_shape=shape)
    path = tmp_path / f"{name}.nir"
    write_nir(model, path, input_shape=shape)
    # the NIR package's own strict type check accepts the file, except for grouped convolutions:
    # nir 1.0.8's Conv2d takes weight.shape[1] as the input channels, ignoring groups
    nir.read(path, type_check="groups" not in name)
    for source in (graph, path):
        got, _ = from_nir(source)(x)
        assert torch.equal(got, want), name
    if want.dtype.is_floating_point and set(torch.unique(want).tolist()) <= {0.0, 1.0}:
        assert 0 < want.sum() < want.numel(), "the case must actually spike"


@pytest.mark.parametrize("name", sorted(CASES))
def test_standard_fields_alone_reproduce(name):
    """What other tools see (no neuro metadata) runs the same model, compared in float64."""
    model, shape, gain = CASES[name]
    model = copy.deepcopy(model).double()
    x = torch.rand(30, 3, *shape, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * gain
    want, _ = model(x)
    imported = from_nir(_strip_metadata(to_nir(model, input_shape=shape)),
                        dt=_dt(model), dtype=torch.float64)
    got, _ = imported(x)
    if set(torch.unique(want).tolist()) <= {0.0, 1.0}:
        assert torch.equal(got, want)
    else:  # membranes (LI, Integrator): equal up to the rounding of tau = dt / (1 - beta)
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-12)


def _dt(model):
    dts = {m.dt for m in model.modules() if hasattr(m, "parameters_physical")}
    return dts.pop() if dts else 1e-3


def test_export_at_another_dt_keeps_the_discrete_model():
    model = Sequential(nn.Linear(4, 6), LIF(tau_mem=20e-3, dt=1e-3, **NIR_LIF),
                       nn.Linear(6, 3), CubaLIF(tau_mem=10e-3, tau_syn=5e-3, dt=1e-3, **NIR_LIF)).double()
    graph = _strip_metadata(to_nir(model, dt=1e-4))  # snnTorch / SpikingJelly assume 1e-4
    lif = graph.nodes["1"]
    np.testing.assert_allclose(lif.tau, 1e-4 / (1e-3 / 20e-3))  # tau such that 1 - dt/tau = beta
    x = torch.rand(40, 2, 4, dtype=torch.float64) * 3
    want, _ = model(x)
    got, _ = from_nir(graph, dt=1e-4, dtype=torch.float64)(x)
    assert want.sum() > 5
    assert torch.equal(got, want)


def test_strict_export_refuses_what_nir_cannot_express():
    with pytest.raises(NIRError, match=r"reset='subtract'.*threshold_op='>='"):
        to_nir(Sequential(nn.Linear(3, 4), LIF()))
    with pytest.raises(NIRError, match="subtract_delayed"):
        to_nir(Sequential(nn.Linear(3, 4), LIF(reset="subtract_delayed", threshold_op=">")))
    with pytest.raises(NIRError, match="ALIF"):
        to_nir(Sequential(nn.Linear(3, 4), ALIF()), strict=False)
    with pytest.raises(NIRError, match="cannot export layer '1' of type GRU"):
        to_nir(Sequential(nn.Linear(3, 4), nn.GRU(4, 4)))


def test_lenient_export_warns_and_roundtrips_exactly_in_neuro(tmp_path):
    model = Sequential(nn.Linear(4, 6), LIF(tau_mem=5e-3),  # subtract reset, >= threshold
                       nn.Linear(6, 3), LIF(beta=0.9, reset="subtract_delayed", threshold_op=">"))
    with pytest.warns(NIRExportWarning, match="reset='subtract'"):
        write_nir(model, tmp_path / "m.nir", strict=False)
    x = torch.rand(40, 2, 4) * 3
    want, _ = model(x)
    got, _ = from_nir(tmp_path / "m.nir")(x)
    assert torch.equal(got, want)
    meta = json.loads(nir.read(tmp_path / "m.nir").nodes["1"].metadata["neuro"])
    assert meta["reset"] == "subtract" and meta["threshold_op"] == ">="


def test_edited_fields_override_metadata():
    model = Sequential(nn.Linear(3, 4), LIF(tau_mem=5e-3, **NIR_LIF))
    graph = to_nir(model)
    graph.nodes["1"].tau = graph.nodes["1"].tau * 2  # another tool changed the time constant
    with pytest.warns(NIRExportWarning, match="disagrees with the NIR fields"):
        imported = from_nir(graph)
    assert imported.module("1").tau_mem == pytest.approx(10e-3)


def test_dt_is_required_without_neuro_metadata():
    graph = _strip_metadata(to_nir(Sequential(nn.Linear(3, 4), LIF(tau_mem=5e-3, **NIR_LIF))))
    with pytest.raises(ValueError, match="pass dt="):
        from_nir(graph)
    with pytest.raises(ValueError, match="dt must be a positive"):
        from_nir(graph, dt=-1.0)


def test_reexport_of_an_imported_graph_keeps_names_and_spikes():
    model, shape, _ = CASES["recurrent"]
    imported = from_nir(to_nir(model, input_shape=shape))
    again = to_nir(imported)
    assert {"1.neuron", "1.w_rec"} <= set(again.nodes)
    x = torch.rand(20, 2, *shape) * 2
    assert torch.equal(from_nir(again)(x)[0], model(x)[0])


def test_delay_nodes_hold_seconds_and_import_without_dt(tmp_path):
    model = Sequential(FixedDelay(torch.tensor([0, 2, 5]), max_delay=6))
    graph = to_nir(model, dt=1e-3)
    np.testing.assert_allclose(graph.nodes["0"].delay, [0.0, 2e-3, 5e-3])
    write_nir(graph, tmp_path / "d.nir")
    imported = from_nir(tmp_path / "d.nir")  # dt from the export's metadata
    layer = imported.module("0")
    assert layer.delays.tolist() == [0, 2, 5] and layer.max_delay == 6  # state length kept
    x = torch.rand(12, 2, 3)
    torch.testing.assert_close(imported(x)[0], model(x)[0], rtol=0, atol=0)
    other = from_nir(_strip_metadata(to_nir(model, dt=1e-3)), dt=0.5e-3)  # another tool's dt
    assert other.module("0").delays.tolist() == [0, 4, 10]


def test_per_synapse_delays_export_as_a_subgraph_of_branches(tmp_path):
    torch.manual_seed(0)
    delays = torch.randint(0, 4, (6, 5))
    model = Sequential(FixedDelay(delays, torch.randn(6, 5)), LIF(tau_mem=5e-3, **NIR_LIF)).double()
    graph = to_nir(model)
    sub = graph.nodes["0"]
    assert isinstance(sub, nir.NIRGraph)
    distinct = sorted(set(delays.flatten().tolist()))
    assert sorted(n for n in sub.nodes if n.startswith("w")) == [f"w{d}" for d in distinct]
    assert sorted(n for n in sub.nodes if n.startswith("d")) == [f"d{d}" for d in distinct if d]
    summed = sum(sub.nodes[f"w{d}"].weight for d in distinct)
    np.testing.assert_array_equal(summed, model.layers[0].weight.numpy())  # each synapse once
    write_nir(model, tmp_path / "s.nir")
    nir.read(tmp_path / "s.nir")  # NIR's own type check accepts the subgraph
    x = torch.rand(25, 3, 5, dtype=torch.float64) * 2
    want, _ = model(x)
    for source in (graph, tmp_path / "s.nir"):
        got, _ = from_nir(source, dtype=torch.float64)(x)
        assert torch.equal(got, want)  # spikes; the weighted sums differ only in summation order
    assert 0 < want.sum() < want.numel()


def test_delay_on_a_recurrent_cycle():
    """input -> lin -> lif -> delay(2) -> rec -> lif: the back edge (rec, lif) adds NIR's one step,
    so the neuron hears its own spikes 3 steps later; checked against an explicit loop."""
    from neuro.nn import Graph

    torch.manual_seed(2)
    lin, rec = nn.Linear(3, 4), nn.Linear(4, 4, bias=False)
    with torch.no_grad():
        rec.weight.copy_(torch.randn(4, 4))
    lif = LIF(tau_mem=5e-3, **NIR_LIF)
    graph = Graph({"lin": lin, "lif": lif, "delay": FixedDelay(torch.full((4,), 2)), "rec": rec},
                  [("input", "lin"), ("lin", "lif"), ("lif", "delay"), ("delay", "rec"),
                   ("rec", "lif"), ("lif", "output")], ["input"], ["output"],
                  input_shapes={"input": (3,)}, node_shapes={"rec": ((4,), (4,))})
    x = torch.rand(30, 2, 3) * 3
    want, _ = graph(x)
    spikes, state = [], None
    for t in range(x.shape[0]):
        fed_back = rec(spikes[t - 3]) if t >= 3 else torch.zeros(2, 4)
        s, state = lif((lin(x[t]) + fed_back).unsqueeze(0), state)
        spikes.append(s[0])
    assert torch.equal(want, torch.stack(spikes))
    assert 0 < want.sum() < want.numel()
    exported = to_nir(graph)
    assert isinstance(exported.nodes["delay"], nir.Delay)
    assert torch.equal(from_nir(exported)(x)[0], want)
