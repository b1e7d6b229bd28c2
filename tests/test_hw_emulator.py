"""The bit-exact integer emulator against independent oracles, CPU vs CUDA, hardware images.

Oracles: (1) a trace computed by hand for a Loihi neuron; (2) a NumPy transcription of Lava's
``PyLifModelBitAcc.subthr_dynamics`` (Lava itself needs Python < 3.11 and cannot be installed here:
``pip install lava-nc`` finds no release for Python 3.11), with Lava's wrapping current;
(3) SynSense's C++ bit-accurate Xylo simulator ``xylosim`` (v2), compared on membrane, current and
spikes wherever Xylo emits at most one spike per step (our model's limit; asserted).
"""

import os

import h5py
import numpy as np
import pytest

from neuro.hw import HardwareImageError, IntegerLayer, IntegerNetwork, emulate, read_image, write_image


def _layer(rng, n_in, n, name, fmt="loihi", reset="zero"):
    if fmt == "loihi":
        return IntegerLayer(name, rng.integers(-128, 128, (n, n_in)), int(rng.integers(0, 3)),
                            rng.integers(0, 4096, n), rng.integers(0, 800, n),
                            rng.integers(-200, 200, n), rng.integers(0, 3, n),
                            rng.integers(20, 400, n), reset)
    return IntegerLayer(name, rng.integers(-20, 40, (n, n_in)), 0, rng.integers(1, 4, n),
                        rng.integers(1, 4, n), rng.integers(-3, 6, n), np.zeros(n, np.int64),
                        rng.integers(400, 700, n), reset)


def test_hand_computed_loihi_trace():
    # du = 2047 -> current factor (4096 - 2048) / 4096 = 1/2; dv = 1024 -> voltage factor 3/4;
    # weights 10 and -7 (x 64 on arrival), threshold 20 << 6 = 1280, zero reset, no bias
    layer = IntegerLayer("n", np.array([[10], [-7]]), 0, np.array([2047, 2047]),
                         np.array([1024, 1024]), np.zeros(2, np.int64), np.zeros(2, np.int64),
                         np.array([20, 20]), "zero")
    net = IntegerNetwork("loihi", [layer])
    x = np.array([1, 1, 1, 0, 0, 0], np.uint8).reshape(6, 1, 1)
    res = emulate(net, x, record_v=True)
    assert res.v[0][:, 0, 0].tolist() == [640, 0, 1120, 0, 280, 350]
    assert res.spikes[0][:, 0, 0].tolist() == [0, 1, 0, 1, 0, 0]
    # negative values decay toward zero: -((|x| * f) >> 12)
    assert res.v[0][:, 0, 1].tolist() == [-448, -1008, -1540, -1547, -1356, -1115]
    assert res.u_final[0].tolist() == [140, -98]
    assert res.synops[0, 0] == 3 * 2 and res.counts[0, 0] == 2


def _lava_transcription(layer, x, wrap=True):
    """Lava's PyLifModelBitAcc (Dense input a = W s) in NumPy, step by step."""
    n = layer.n_out
    u, v = np.zeros(n, np.int64), np.zeros(n, np.int64)
    w = layer.effective_weights()
    bias = layer.effective_bias()
    vth = layer.threshold_mantissa.astype(np.int64) << 6
    max_uv = 2 ** 23
    spikes, volts = [], []
    for x_t in x:
        a = w @ x_t.astype(np.int64)
        decayed = u * (4096 - (layer.decay_u + 1))
        decayed = np.sign(decayed) * np.right_shift(np.abs(decayed), 12)
        decayed = decayed + np.left_shift(a, 6)
        if wrap:
            wrapped = np.where(decayed > max_uv, decayed - 2 * max_uv, decayed)
            u = np.where(wrapped <= -max_uv, decayed + 2 * max_uv, wrapped)
        else:
            u = np.clip(decayed, -max_uv + 1, max_uv - 1)
        dv = v * (4096 - layer.decay_v)
        dv = np.sign(dv) * np.right_shift(np.abs(dv), 12)
        v = np.clip(dv + u + bias, -max_uv + 1, max_uv - 1)
        s = v > vth
        v[s] = 0
        spikes.append(s.astype(np.uint8))
        volts.append(v.copy())
    return np.array(spikes), np.array(volts), u


@pytest.mark.parametrize("wrap", [True, False])
def test_matches_lava_bit_accurate_lif_transcription(wrap):
    rng = np.random.default_rng(0)
    layer = _layer(rng, 12, 9, "lif")
    if wrap:  # drive the current past 2^23 so that Lava's wrap-around happens
        layer.weight_mantissa[:3] = 127
        layer.weight_exponent = 7
        layer.decay_u[:3] = 0
    net = IntegerNetwork("loihi", [layer], current_overflow="wrap" if wrap else "saturate")
    x = (rng.random((60, 12)) < 0.5).astype(np.uint8)
    with pytest.warns(RuntimeWarning, match="integer overflow") if wrap else _no_warning():
        res = emulate(net, x[:, None, :], record_v=True)
    spikes, volts, u = _lava_transcription(layer, x, wrap)
    assert spikes.sum() > 10
    assert np.array_equal(res.spikes[0][:, 0], spikes)
    assert np.array_equal(res.v[0][:, 0], volts)
    assert np.array_equal(res.u_final[0], u)
    if wrap:
        assert res.overflow[0, 0] > 0 and (u < 0).any()  # wrapped currents turned negative


class _no_warning:
    def __enter__(self):
        import warnings

        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("error", RuntimeWarning)

    def __exit__(self, *exc):
        self._w.__exit__(*exc)


def test_overflow_is_reported_then_saturated():
    layer = IntegerLayer("big", np.full((1, 4), 127), 7, np.array([0]), np.array([0]),
                         np.zeros(1, np.int64), np.zeros(1, np.int64), np.array([131071]), "none")
    net = IntegerNetwork("loihi", [layer])
    with pytest.warns(RuntimeWarning, match=r"integer overflow: \[\d+\] register overflow events"):
        res = emulate(net, np.ones((20, 1, 4), np.uint8), record_v=True)
    assert res.overflow[0, 0] > 0
    assert res.v[0][-1, 0, 0] == 2 ** 23 - 1 and res.u_final[0, 0] == 2 ** 23 - 1


@pytest.mark.parametrize("fmt,reset", [("loihi", "zero"), ("loihi", "subtract"), ("xylo", "subtract")])
def test_cpu_and_cuda_kernels_identical(cuda_device, fmt, reset):
    rng = np.random.default_rng(1)
    net = IntegerNetwork(fmt, [_layer(rng, 10, 24, "a", fmt, reset), _layer(rng, 24, 5, "b", fmt, reset)])
    x = (rng.random((12, 3, 10)) < 0.4).astype(np.uint8)
    cpu = emulate(net, x, "numba", record_v=True)
    gpu = emulate(net, x, "cuda", record_v=True)
    assert cpu.counts.sum() > 0
    for a, b in zip(cpu.spikes + cpu.v, gpu.spikes + gpu.v):
        assert np.array_equal(a, b)
    for a, b in zip(cpu[1:4] + cpu[5:], gpu[1:4] + gpu[5:]):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_xylosim(seed):
    xylo = pytest.importorskip("xylosim.v2")
    rng = np.random.default_rng(seed)
    n_in, n, T = 8, 6, 200
    layer = _layer(rng, n_in, n, "hidden", "xylo", "subtract")
    w = layer.weight_mantissa
    synapses = [[xylo.XyloSynapse(int(k), 0, int(w[k, j])) for k in range(n) if w[k, j] != 0]
                for j in range(n_in)]
    empty = [[] for _ in range(n)]
    sim = xylo.XyloLayer(synapses, empty, empty, empty, layer.threshold_mantissa.tolist(), [], True,
                         layer.bias_mantissa.tolist(), [], int(layer.weight_exponent), 0, 0,
                         layer.decay_v.tolist(), [], [[int(d)] for d in layer.decay_u], [], "oracle")
    x = (rng.random((T, n_in)) < 0.3).astype(np.uint8)
    sim.evolve(x.tolist())
    spikes = np.array(sim.rec_recurrent_spikes)
    v = np.array([list(r) for r in sim.rec_v_mem]).T
    i_syn = np.array([list(r) for r in sim.rec_i_syn]).T
    assert spikes.max() == 1 and spikes.sum() > 0  # one spike per step at most: models coincide
    res = emulate(IntegerNetwork("xylo", [layer]), x[:, None, :], record_v=True)
    assert np.array_equal(res.spikes[0][:, 0], spikes)
    assert np.array_equal(res.v[0][:, 0], v)
    assert np.array_equal(res.u_final[0], i_syn[-1])


def test_bad_inputs_and_parameters():
    rng = np.random.default_rng(0)
    net = IntegerNetwork("loihi", [_layer(rng, 4, 3, "a")])
    with pytest.raises(ValueError, match="spike counts"):
        emulate(net, np.full((3, 1, 4), 0.5))
    with pytest.raises(ValueError, match="takes 4 inputs per step, got 5"):
        emulate(net, np.zeros((3, 1, 5)))
    with pytest.raises(ValueError, match="NaN"):
        emulate(net, np.full((3, 1, 4), np.nan))
    bad = _layer(rng, 4, 3, "b")
    bad.decay_u = np.array([0, 5000, 1])
    with pytest.raises(ValueError, match=r"layer 0 \('b'\): decay_u must lie in \[0, 4095\]"):
        IntegerNetwork("loihi", [bad])
    with pytest.raises(ValueError, match=r"layer 1 \('d'\): takes 7 inputs but layer 0 has 3"):
        IntegerNetwork("loihi", [_layer(rng, 4, 3, "c"), _layer(rng, 7, 2, "d")])
    with pytest.raises(ValueError, match="weight_mantissa must lie in"):
        IntegerNetwork("loihi", [_layer(rng, 4, 3, "e")], weight_bits=4)


def test_hardware_image_roundtrip_and_resources(tmp_path):
    rng = np.random.default_rng(2)
    a = _layer(rng, 10, 16, "a")
    a.weight_mantissa[a.weight_mantissa.__abs__() < 40] = 0  # sparse connectivity
    net = IntegerNetwork("loihi", [a, _layer(rng, 16, 4, "b", reset="subtract")], input_shape=(2, 5))
    x = (rng.random((10, 4, 2, 5)) < 0.4).astype(np.uint8)
    res = emulate(net, x)
    report = net.resources(res.counts.mean(0), res.synops.mean(0))
    path = write_image(net, tmp_path / "net.h5", report)
    back, back_report = read_image(path)
    assert back_report == report
    assert report["layers"][0]["synapses"] == int((a.weight_mantissa != 0).sum())
    assert report["layers"][0]["synaptic_memory_bits"] == report["layers"][0]["synapses"] * 8
    assert report["layers"][0]["fan_in_max"] == int((a.weight_mantissa != 0).sum(1).max())
    assert report["total"]["neurons"] == 20
    assert report["total"]["synops_per_inference"] == pytest.approx(res.synops.sum(1).mean())
    again = emulate(back, x)
    assert all(np.array_equal(p, q) for p, q in zip(res.spikes, again.spikes))
    assert back.input_shape == (2, 5) and back.layers[1].reset == "subtract"


def test_hardware_image_bad_files(tmp_path):
    rng = np.random.default_rng(3)
    net = IntegerNetwork("loihi", [_layer(rng, 4, 3, "a")])
    path = write_image(net, tmp_path / "net.h5")
    data = path.read_bytes()
    (tmp_path / "cut.h5").write_bytes(data[: len(data) // 2])
    with pytest.raises(HardwareImageError, match="truncated or corrupt"):
        read_image(tmp_path / "cut.h5")
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f.attrs["schema"] = "something-else"
    with pytest.raises(HardwareImageError, match="schema is 'something-else'"):
        read_image(tmp_path / "other.h5")
    with h5py.File(path, "a") as f:
        f["layers/0/decay_v"][0] = 9999
    with pytest.raises(HardwareImageError, match=r"decay_v must lie in \[0, 4095\]"):
        read_image(path)
    net.layers[0].threshold_mantissa = np.array([-1, 0, 1])  # invalid after construction
    with pytest.raises(ValueError, match="threshold_mantissa"):
        write_image(net, tmp_path / "new.h5")
    assert not os.path.exists(tmp_path / "new.h5")
    assert [p for p in os.listdir(tmp_path) if p.endswith(".tmp")] == []
