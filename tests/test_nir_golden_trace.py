"""The NIR paper's single-neuron golden trace (Norse export ``lif_norse.nir``, dt = 1e-4 s).

Parameters are read from the file with h5py (full NIR import is a later feature); the input column
of ``lif_norse.csv`` must give spikes exactly at steps 460, 510, 710, 760 and the csv's membrane.
"""

import h5py
import numpy as np
import pytest
import torch

from neuro.nn import LIF


@pytest.mark.parametrize("backend", ["torch", "numba"])
def test_lif_norse_golden_trace(shared_data, backend):
    folder = shared_data / "nir" / "nir_paper" / "01_lif"
    with h5py.File(folder / "lif_norse.nir", "r") as f:
        nodes = f["node"]["nodes"]
        lif = nodes["1"]
        assert lif["type"][()] == b"LIF"
        tau, r = float(lif["tau"][0]), float(lif["r"][0])
        v_leak, v_th = float(lif["v_leak"][0]), float(lif["v_threshold"][0])
        weight, bias = float(nodes["0"]["weight"][0, 0]), float(nodes["0"]["bias"][0])
    trace = np.loadtxt(folder / "lif_norse.csv", delimiter=",")
    x = torch.tensor(trace[:, 0] * weight + bias, dtype=torch.float64).view(-1, 1, 1)
    # NIR: tau dv/dt = (v_leak - v) + r I, forward Euler; spike when v > v_th, then v = v_reset = 0
    neuron = LIF(tau_mem=tau, r=r, v_leak=v_leak, v_th=v_th, dt=1e-4, decay_input=True,
                 reset="zero", threshold_op=">", record_states=True, backend=backend)
    spikes, states = neuron(x)
    assert np.flatnonzero(spikes.flatten().numpy()).tolist() == [460, 510, 710, 760]
    assert np.array_equal(spikes.flatten().numpy(), trace[:, 2])
    np.testing.assert_allclose(states.v.flatten().numpy(), trace[:, 1], rtol=0, atol=1e-6)
