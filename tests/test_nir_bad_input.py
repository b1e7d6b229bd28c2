"""Bad NIR input: clear errors naming the node and field (strict), documented fix-ups (lenient),
truncated / non-NIR files, nothing half-written on export, and the ``neuro inspect`` CLI."""

import os

import h5py
import numpy as np
import pytest
import torch
from torch import nn

from neuro.cli import main
from neuro.nir import NIRError, NIRFixupWarning, from_nir, to_nir, write_nir
from neuro.nn import LIF, Sequential

ZERO = dict(reset="zero", threshold_op=">")


def _write(path, nodes, edges, version="1.0.8"):
    """A NIR file written with h5py directly (so it can be non-conforming)."""
    with h5py.File(path, "w") as f:
        f.create_dataset("version", data=version, dtype=h5py.string_dtype())
        g = f.create_group("node")
        g.create_dataset("type", data="NIRGraph", dtype=h5py.string_dtype())
        g.create_dataset("edges", data=np.array(edges, dtype=object), dtype=h5py.string_dtype())
        ng = g.create_group("nodes")
        for name, fields in nodes.items():
            n = ng.create_group(name)
            for key, value in fields.items():
                if isinstance(value, str):
                    n.create_dataset(key, data=value, dtype=h5py.string_dtype())
                else:
                    n.create_dataset(key, data=np.asarray(value))
    return path


def _lif(n, tau=5e-3, **extra):
    return {"type": "LIF", "tau": np.full(n, tau), "r": np.ones(n), "v_leak": np.zeros(n),
            "v_threshold": np.ones(n), **extra}


def _chain(path, middle, n_in=3, n_out=4, **kw):
    nodes = {"input": {"type": "Input", "shape": [n_in]}, **middle,
             "output": {"type": "Output", "shape": [n_out]}}
    names = list(nodes)
    return _write(path, nodes, list(zip(names[:-1], names[1:])), **kw)


def test_unsupported_node_type_names_it_and_the_supported_ones(tmp_path):
    path = _chain(tmp_path / "a.nir", {"x": {"type": "Resonator", "freq": [1.0]}})
    with pytest.raises(NIRError, match=r"node 'x' has type 'Resonator'.*supported NIR node types: "
                                       r"Affine, AvgPool2d"):
        from_nir(path, dt=1e-4)


def test_bad_delays(tmp_path):
    def delay(values):
        values = np.asarray(values, dtype=np.float64)
        shape = list(values.shape)
        return _write(tmp_path / "d.nir", {"input": {"type": "Input", "shape": shape},
                                           "delay": {"type": "Delay", "delay": values},
                                           "output": {"type": "Output", "shape": shape}},
                      [("input", "delay"), ("delay", "output")])

    with pytest.raises(NIRError, match=r"node 'delay' \(Delay\): delay 0.0025 s at channel 1 is 2.5 "
                                       r"steps of dt = 0.001 s, not a whole number"):
        from_nir(delay([1e-3, 2.5e-3, 0.0]), dt=1e-3)
    assert from_nir(delay([1e-3, 2.5e-3, 0.0]), dt=0.5e-3).module("delay").delays.tolist() == [2, 5, 0]
    with pytest.raises(NIRError, match=r"node 'delay' \(Delay\): field 'delay' must be >= 0 seconds"):
        from_nir(delay([1e-3, -2e-3]), dt=1e-3)
    with pytest.raises(NIRError, match="FixedDelay delays the channels"):
        from_nir(delay(np.zeros((2, 3))), dt=1e-3)
    with pytest.raises(ValueError, match="pass dt="):  # a Delay needs a time step
        from_nir(delay([1e-3]))


def test_shape_mismatch_along_an_edge(tmp_path):
    path = _chain(tmp_path / "a.nir", {"fc": {"type": "Linear", "weight": np.ones((4, 5))},
                                       "lif": _lif(4)})
    with pytest.raises(NIRError, match=r"node 'fc' \(Linear\): field 'weight' has shape \(4, 5\).*"
                                       r"edge from 'input' delivers \[3\]"):
        from_nir(path, dt=1e-4)


def test_transposed_weights(tmp_path):
    w = np.arange(12.0).reshape(3, 4)  # stored [in, out]
    path = _chain(tmp_path / "a.nir", {"fc": {"type": "Linear", "weight": w}, "lif": _lif(4)})
    with pytest.raises(NIRError, match=r"'weight' has shape \(3, 4\).*stored \[in, out\]\?.*"
                                       r"strict=False to transpose"):
        from_nir(path, dt=1e-4)
    with pytest.warns(NIRFixupWarning, match="transpose it"):
        graph = from_nir(path, dt=1e-4, strict=False)
    assert torch.equal(graph.module("fc").weight, torch.tensor(w.T, dtype=torch.float32))


def test_scalar_versus_per_neuron_parameters(tmp_path):
    lif = _lif(4)
    lif["v_threshold"] = np.array(1.5)  # scalar among per-neuron fields
    path = _chain(tmp_path / "a.nir", {"fc": {"type": "Linear", "weight": np.ones((4, 3))}, "lif": lif})
    with pytest.raises(NIRError, match=r"node 'lif' \(LIF\): fields \['v_threshold'\] have shapes"):
        from_nir(path, dt=1e-4)
    with pytest.warns(NIRFixupWarning, match="broadcast them to"):
        graph = from_nir(path, dt=1e-4, strict=False)
    assert graph.module("lif").v_th == 1.5
    # a 1-neuron parameter set for a layer of 4
    path = _chain(tmp_path / "b.nir", {"fc": {"type": "Linear", "weight": np.ones((4, 3))},
                                       "lif": _lif(1)})
    with pytest.raises(NIRError, match=r"per-neuron fields have shape \[1\] but the edge from 'fc'"):
        from_nir(path, dt=1e-4)
    with pytest.warns(NIRFixupWarning):
        out, _ = from_nir(path, dt=1e-4, strict=False)(torch.ones(5, 2, 3))
    assert out.shape == (5, 2, 4)


def test_old_style_input_output_fields(tmp_path):
    path = _write(tmp_path / "a.nir", {"input": {"type": "Input", "input_type": [3]},
                                       "fc": {"type": "Linear", "weight": np.ones((4, 3))},
                                       "output": {"type": "Output", "output_type": [4]}},
                  [("input", "fc"), ("fc", "output")])
    with pytest.raises(NIRError, match="old field 'input_type'"):
        from_nir(path, dt=1e-4)
    with pytest.warns(NIRFixupWarning):
        out, _ = from_nir(path, dt=1e-4, strict=False)(torch.ones(2, 1, 3))
    assert torch.equal(out, torch.full((2, 1, 4), 3.0))


def test_cycle_without_a_stateful_node(tmp_path):
    nodes = {"input": {"type": "Input", "shape": [3]},
             "a": {"type": "Linear", "weight": np.eye(3) * 0.5},
             "b": {"type": "Scale", "scale": np.full(3, 0.5)},
             "output": {"type": "Output", "shape": [3]}}
    path = _write(tmp_path / "a.nir", nodes, [("input", "a"), ("a", "b"), ("b", "a"), ("b", "output")])
    with pytest.raises(NIRError, match=r"lies on the cycle \['a', 'b'\], which has no stateful node"):
        from_nir(path, dt=1e-4)
    with pytest.warns(NIRFixupWarning, match="one-step delay"):
        graph = from_nir(path, dt=1e-4, strict=False, dtype=torch.float64)
    out, _ = graph(torch.ones(3, 1, 3, dtype=torch.float64))
    # a_t = 0.5 (x_t + b_{t-1}), b_t = 0.5 a_t, b_{-1} = 0
    torch.testing.assert_close(out[:, 0, 0], torch.tensor([0.25, 0.3125, 0.328125], dtype=torch.float64))


def test_bad_field_values(tmp_path):
    path = _chain(tmp_path / "a.nir", {"fc": {"type": "Linear", "weight": np.ones((4, 3))},
                                       "lif": _lif(4, tau=1e-5)})
    with pytest.raises(NIRError, match=r"node 'lif' \(LIF\): tau_mem=\S+ is smaller than dt=0.0001"):
        from_nir(path, dt=1e-4)
    lif = _lif(4)
    lif["r"] = np.array([1.0, np.nan, 1.0, 1.0])
    path = _chain(tmp_path / "b.nir", {"fc": {"type": "Linear", "weight": np.ones((4, 3))}, "lif": lif})
    with pytest.raises(NIRError, match=r"node 'lif' \(LIF\): field 'r' contains NaN"):
        from_nir(path, dt=1e-4)
    lif = _lif(4)
    del lif["v_leak"]
    path = _chain(tmp_path / "c.nir", {"fc": {"type": "Linear", "weight": np.ones((4, 3))}, "lif": lif})
    with pytest.raises(NIRError, match=r"node 'lif' \(LIF\): required field 'v_leak' is missing"):
        from_nir(path, dt=1e-4)
    path = _chain(tmp_path / "d.nir", {"d": {"type": "Delay", "delay": np.full(3, 2e-4)}}, n_out=3)
    assert from_nir(path, dt=1e-4).module("d").delays.tolist() == [2, 2, 2]  # bad delays: below


def test_truncated_and_foreign_files(tmp_path):
    good = tmp_path / "good.nir"
    write_nir(Sequential(nn.Linear(3, 4), LIF(tau_mem=5e-3, **ZERO)), good)
    data = good.read_bytes()
    cut = tmp_path / "cut.nir"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(NIRError, match="truncated"):
        from_nir(cut, dt=1e-4)
    text = tmp_path / "text.nir"
    text.write_text("not a NIR file")
    with pytest.raises(NIRError, match="not a readable HDF5/NIR file"):
        from_nir(text, dt=1e-4)
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["x"] = 1
    with pytest.raises(NIRError, match="no '/node' group"):
        from_nir(tmp_path / "other.h5", dt=1e-4)
    with pytest.raises(FileNotFoundError):
        from_nir(tmp_path / "missing.nir", dt=1e-4)
    with pytest.raises(TypeError, match="path to a .nir file or a nir.NIRGraph"):
        from_nir(42, dt=1e-4)


def test_failed_export_writes_nothing(tmp_path):
    target = tmp_path / "model.nir"
    with pytest.raises(NIRError):
        write_nir(Sequential(nn.Linear(3, 4), LIF()), target)  # subtract reset: strict refuses
    assert os.listdir(tmp_path) == []
    write_nir(Sequential(nn.Linear(3, 4), LIF(**ZERO)), target)
    assert os.listdir(tmp_path) == ["model.nir"]  # no temporary file left behind


def test_export_needs_an_input_shape_for_convolutions():
    with pytest.raises(NIRError, match="pass input_shape="):
        to_nir(Sequential(nn.Conv2d(1, 2, 3), LIF(**ZERO)))


def test_neuro_inspect_cli(shared_data, tmp_path, capsys):
    lif = shared_data / "nir" / "nir_paper" / "01_lif"
    assert main(["inspect", str(lif / "lif_norse.nir")]) == 0
    out = capsys.readouterr().out
    assert "LIF" in out and "tau" in out and "0.0025" in out and "input -> 0" in out
    png = tmp_path / "g.png"
    assert main(["inspect", str(shared_data / "nir" / "nir_paper" / "03_rnn" /
                                "braille_noDelay_bias_zero.nir"), "--draw", str(png)]) == 0
    assert "[recurrent: previous step]" in capsys.readouterr().out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["inspect", str(lif / "lif_rockpool.nir")]) == 0
    assert "non-conforming (fixed leniently)" in capsys.readouterr().out
    assert main(["inspect", "--strict", str(lif / "lif_rockpool.nir")]) == 1
    assert "field 'shape'" in capsys.readouterr().err
