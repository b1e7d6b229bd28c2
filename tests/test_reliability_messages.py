"""Clear messages: NIR fields of non-real types, real scalars as dt / duration, per-neuron parameters
of the wrong length named as given, the demo's file list and pictures."""

import h5py
import numpy as np
import pytest
import torch

from neuro.cli import main
from neuro.nir import NIRError, NIRFixupWarning, from_nir


def _lif_file(path, **fields):
    """input(3) -> LIF(3) -> output(3), the LIF's fields overridden by ``fields`` (raw values)."""
    lif = {"tau": np.full(3, 5e-3), "r": np.ones(3), "v_leak": np.zeros(3), "v_threshold": np.ones(3),
           **fields}
    with h5py.File(path, "w") as f:
        f.create_dataset("version", data="1.0.8", dtype=h5py.string_dtype())
        g = f.create_group("node")
        g.create_dataset("type", data="NIRGraph", dtype=h5py.string_dtype())
        g.create_dataset("edges", data=np.array([["input", "lif"], ["lif", "output"]], dtype=object),
                         dtype=h5py.string_dtype())
        nodes = g.create_group("nodes")
        for name, kind, values in (("input", "Input", {"shape": np.array([3])}), ("lif", "LIF", lif),
                                   ("output", "Output", {"shape": np.array([3])})):
            n = nodes.create_group(name)
            n.create_dataset("type", data=kind, dtype=h5py.string_dtype())
            for key, value in values.items():
                n.create_dataset(key, data=value)
    return path


@pytest.mark.parametrize("field,value,kind", [
    ("tau", np.array([True, True, False]), "boolean"),
    ("tau", np.full(3, 5e-3 + 2e-3j), "complex"),
    ("v_threshold", np.void(b"\x00\x00\x80?" * 3), "raw"),
    ("r", np.bytes_(b"\x00\x00\x80?"), "bytes"),
])
def test_nir_strict_mode_refuses_non_real_fields_naming_node_and_field(tmp_path, field, value, kind):
    path = _lif_file(tmp_path / "g.nir", **{field: value})
    with pytest.raises(NIRError, match=rf"node 'lif' \(LIF\): field '{field}' has {kind}"):
        from_nir(path, dt=1e-4)
    if kind in ("complex", "raw", "bytes"):  # no real value to keep: refused in lenient mode too
        with pytest.raises(NIRError, match=f"field '{field}' has {kind}"):
            from_nir(path, dt=1e-4, strict=False)


def test_nir_lenient_mode_reads_booleans_and_real_complex_values_with_a_warning(tmp_path):
    path = _lif_file(tmp_path / "g.nir", r=np.array([True, True, True]), tau=np.full(3, 5e-3 + 0j))
    with pytest.warns(NIRFixupWarning, match="field 'r' has boolean values"):
        graph = from_nir(path, dt=1e-4, strict=False)
    out, _ = graph(torch.ones(4, 1, 3))
    assert out.shape == (4, 1, 3)


def test_real_scalars_of_any_type_are_accepted_as_dt_and_duration():
    import neuro.sim as sim
    from neuro.functional import NeuronParameters
    from neuro.nn import LIF

    assert NeuronParameters(dt=np.float32(1e-3)).dt == float(np.float32(1e-3))
    assert isinstance(NeuronParameters(dt=np.float64(1e-3)).dt, float)
    x = torch.rand(5, 2, 4)
    torch.testing.assert_close(LIF(tau_mem=0.02, dt=np.float32(1e-3))(x)[0],
                               LIF(tau_mem=0.02, dt=float(np.float32(1e-3)))(x)[0])
    for bad in (True, "1e-3", float("nan"), -1e-3):
        with pytest.raises(ValueError, match="dt must be a positive number of seconds"):
            NeuronParameters(dt=bad)
    net = sim.Network(dt=np.float32(1e-4))
    pop = net.add(sim.Population(3, "LIF", tau_mem=20e-3))
    spikes = net.add(sim.SpikeMonitor(pop))
    net.run(np.float32(0.01), progress=False)
    assert net.step == 100 and spikes is not None
    with pytest.raises(ValueError, match="duration must be a non-negative number"):
        net.run(np.bool_(True), progress=False)


@pytest.mark.parametrize("name", ["tau_mem", "v_leak", "v_th"])
def test_per_neuron_parameters_of_the_wrong_length_are_named(name):
    from neuro.nn import LIF

    values = {"tau_mem": 0.02, "v_leak": 0.0, "v_th": 1.0}
    values[name] = torch.full((3,), values[name])
    neuron = LIF(**values)
    for call in (lambda: neuron(torch.rand(4, 2, 5)), lambda: neuron.step(torch.rand(2, 5))):
        with pytest.raises(ValueError, match=rf"^{name} has shape \(3,\), which does not match the "
                                             r"feature shape \(5,\) of the input"):
            call()


def test_demo_lists_every_file_it_writes(tmp_path, tmp_path_factory, monkeypatch, capsys):
    # frames from the session's cache (shared with test_train / test_demo)
    monkeypatch.setenv("NEURO_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "neuro_frame_cache"))
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--epochs", "1", "--train-samples", "32",
                 "--test-samples", "8", "--no-progress"]) == 0
    listing = capsys.readouterr().out
    for name in ("config.json", "metrics.csv", "metrics.json", "curves.png", "raster.png",
                 "checkpoint.pt"):
        assert f"{out / name}\n" in listing
        assert (out / name).stat().st_size > 0
