"""Event-driven simulation kernels (Numba CPU, numba.cuda) against the dense torch reference.

Weights are dyadic (tests/sim_cases.py), so the spike trains, monitored states and population
counts must be *identical* across backends. The CUDA kernel runs on Numba's CUDA simulator in CI
(``cuda_device`` fixture), on the GPU when there is one.
"""

import numpy as np
import pytest
import torch

from sim_cases import mixed_network, small_cuba

# the dense torch reference does many tiny ops: a second torch thread only contends on a shared
# 2-core machine (measured 4 x slower with two under load)
pytestmark = pytest.mark.usefixtures("one_torch_thread")

SPIKE_MONITORS = ("A", "B", "C", "P", "G")


def _run_mixed(backend, dtype):
    net, mons = mixed_network(backend, dtype)
    net.run(0.1, progress=False)
    net.run(0.05, progress=False)  # continuation across runs (state, delays in flight, inputs)
    return net, mons


def _assert_same(a, b, label):
    for key in SPIKE_MONITORS:
        assert np.array_equal(a[key].steps, b[key].steps), f"{label}: spike steps of {key} differ"
        assert np.array_equal(a[key].indices, b[key].indices), f"{label}: spike indices of {key} differ"
    for var in ("v", "a", "g_exc"):
        assert np.array_equal(a["state"][var], b["state"][var]), f"{label}: recorded {var} differs"
    for var in ("v", "i"):
        assert np.array_equal(a["stateC"][var], b["stateC"][var]), f"{label}: recorded C.{var} differs"
    assert np.array_equal(a["rate"].counts, b["rate"].counts), f"{label}: population counts differ"


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_numba_kernel_matches_dense_reference(dtype):
    _, kernel = _run_mixed("numba", dtype)
    _, ref = _run_mixed("torch", dtype)
    for key in ("A", "B", "C", "P", "G"):
        assert kernel[key].num_spikes > 0, f"population {key} is silent: the comparison would be vacuous"
    assert kernel["state"].steps.tolist() == list(range(0, 150, 2))
    _assert_same(kernel, ref, f"numba vs torch ({dtype})")


def test_cuda_kernel_matches_numba_kernel(cuda_device):
    """90 steps in two runs (the CUDA simulator runs every thread in Python): every population and
    the generator spike (87, 375, 47, 57 and 4 spikes)."""
    kernel_net, kernel = mixed_network("numba", torch.float64)
    net, cuda_mons = mixed_network("cuda", torch.float64, device=cuda_device)
    for n in (kernel_net, net):
        n.run(0.06, progress=False)
        n.run(0.03, progress=False)  # continuation across runs (state, delays in flight, inputs)
    for key in SPIKE_MONITORS:
        assert kernel[key].num_spikes > 0, key
    _assert_same(kernel, cuda_mons, "cuda vs numba")


def _homogeneous_network_matches(backend: str, device: str = "cpu") -> None:
    # the CUDA simulator runs every thread in Python: 64 neurons for 40 ms there (47 spikes)
    n, duration, least = (64, 0.04, 40) if backend == "cuda" else (200, 0.1, 50)
    net_k, spikes_k, rate_k = small_cuba("numba", n=n)
    assert not net_k.compiled.hetero  # the register-resident parameter path of the CPU kernel
    net_k.run(duration, progress=False)
    net_o, spikes_o, rate_o = small_cuba(backend, n=n, device=device)
    net_o.run(duration, progress=False)
    assert spikes_k.num_spikes > least
    assert np.array_equal(spikes_k.steps, spikes_o.steps)
    assert np.array_equal(spikes_k.indices, spikes_o.indices)
    assert np.array_equal(rate_k.counts, rate_o.counts)
    np.testing.assert_array_equal(net_k.state()["v"], net_o.state()["v"])


def test_homogeneous_network_matches_torch():
    _homogeneous_network_matches("torch")


def test_homogeneous_network_matches_cuda(cuda_device):
    _homogeneous_network_matches("cuda", cuda_device)


def test_spike_record_grows_without_losing_spikes():
    """A tiny initial spike buffer forces the kernel to stop early and resume several times."""
    net, spikes, _ = small_cuba("numba")
    net.run(0.0, progress=False)
    runner = net._runner = net._make_runner()
    runner.spk_t = np.zeros(net.compiled.n_rec + 1, np.int32)
    runner.spk_i = np.zeros_like(runner.spk_t)
    net.run(0.1, progress=False)
    ref, spikes_ref, _ = small_cuba("numba")
    ref.run(0.1, progress=False)
    assert (np.array_equal(spikes.steps, spikes_ref.steps)
            and np.array_equal(spikes.indices, spikes_ref.indices))


def test_chunking_and_continuation_do_not_change_results():
    a, ma = mixed_network("numba", torch.float32)
    a.run(0.15, progress=False, chunk_steps=7)
    b, mb = mixed_network("numba", torch.float32)
    b.run(0.15, progress=True)
    _assert_same(ma, mb, "chunked vs one call")


def test_reset_replays_and_seeds_differ():
    net, mons = mixed_network("numba", torch.float32, seed=11)
    net.run(0.1, progress=False)
    first = mons["A"].steps.copy(), mons["A"].indices.copy()
    net.reset()
    assert mons["A"].num_spikes == 0 and net.t == 0.0
    net.run(0.1, progress=False)
    assert np.array_equal(first[0], mons["A"].steps) and np.array_equal(first[1], mons["A"].indices)
    other, mons2 = mixed_network("numba", torch.float32, seed=12)
    other.run(0.1, progress=False)
    assert not (len(first[0]) == mons2["A"].num_spikes and np.array_equal(first[1], mons2["A"].indices))
