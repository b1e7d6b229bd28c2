"""Numba CPU and CUDA kernels vs the pure-torch reference: spikes identical, gradients allclose."""

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lif_cases import STRUCTURES, make_case, run_both, structure_id
from neuro.surrogate import ATan, FastSigmoid, Sigmoid, StraightThrough, Triangle


def assert_match(kern, ref, g_kern, g_ref, rtol=1e-9, atol=1e-10):
    if ref.spikes is not None:
        assert torch.equal(kern.spikes, ref.spikes), "spike trains differ"
    for a, b, name in zip(kern[1:], ref[1:], ("v_seq", "i_seq", "a_seq", "i_last", "v_last", "a_last")):
        if b is not None:
            assert torch.equal(a, b), f"{name} differs"
    for a, b, name in zip(g_kern, g_ref, ("x", "prm", "i0", "v0", "a0")):
        torch.testing.assert_close(a, b, rtol=rtol, atol=atol, msg=f"gradient of {name} differs")


@pytest.mark.parametrize("structure", STRUCTURES, ids=structure_id)
def test_numba_matches_reference_float64(structure):
    case = make_case(structure, T=37, N=1100, P=1100 // 4, dtype=torch.float64, seed=3)
    kern, ref, gk, gr = run_both(*case, backend="numba")
    if structure[2]:
        rate = float(ref.spikes.detach().mean())
        assert 0.02 < rate < 0.6, f"test case should spike at a moderate rate, got {rate}"
    assert_match(kern, ref, gk, gr)


@pytest.mark.parametrize("structure", [STRUCTURES[0], STRUCTURES[4], STRUCTURES[7]], ids=structure_id)
def test_numba_matches_reference_float32(structure):
    case = make_case(structure, T=50, N=700, P=1, dtype=torch.float32, seed=4)
    kern, ref, gk, gr = run_both(*case, backend="numba")
    assert_match(kern, ref, gk, gr, rtol=2e-4, atol=2e-4)


SURROGATES = [ATan(2.0), FastSigmoid(10.0), Sigmoid(4.0), Triangle(0.7), StraightThrough()]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(structure=st.sampled_from(STRUCTURES), T=st.integers(1, 40), B=st.integers(1, 5),
       F=st.integers(1, 70), per_neuron=st.booleans(), ge=st.booleans(), detach=st.booleans(),
       surrogate=st.sampled_from(SURROGATES), learn_prm=st.booleans(), record=st.booleans(),
       seed=st.integers(0, 10_000))
def test_numba_matches_reference_random(structure, T, B, F, per_neuron, ge, detach, surrogate,
                                        learn_prm, record, seed):
    case = make_case(structure, T=T, N=B * F, P=F if per_neuron else 1, dtype=torch.float64,
                     seed=seed, ge=ge, detach_reset=detach, surrogate=surrogate)
    kern, ref, gk, gr = run_both(*case, backend="numba", record=record, learn_prm=learn_prm)
    assert_match(kern, ref, gk, gr)


def test_threshold_ties_follow_the_comparison_operator():
    """h == theta exactly fires with '>=' (SpikingJelly) and not with '>' (snnTorch, Norse)."""
    for ge, expected in ((True, 1.0), (False, 0.0)):
        cfg, x, prm, i0, v0, a0 = make_case(STRUCTURES[0], T=1, N=3, P=1, dtype=torch.float32, seed=0,
                                            ge=ge)
        prm[:] = torch.tensor([0, 1, 0.5, 1, 0, 1.0, 0, 0, 0]).view(9, 1)
        x = torch.full((1, 3), 0.5)
        v0 = torch.ones(3)  # h = 0.5 * 1 + 0.5 = 1.0 == threshold
        for backend in ("numba", "torch"):
            from neuro.ops.lif import lif_scan
            res = lif_scan(x, prm, i0, v0, a0, cfg, backend=backend)
            assert torch.equal(res.spikes, torch.full((1, 3), expected))


@pytest.mark.parametrize("structure", [STRUCTURES[0], STRUCTURES[3], STRUCTURES[5], STRUCTURES[8],
                                       STRUCTURES[10]], ids=structure_id)
def test_cuda_kernels_match_reference(structure, cuda_device):
    """Runs natively on a GPU, or on Numba's CUDA simulator (CI) with tiny shapes."""
    case = make_case(structure, T=6, N=40, P=8, dtype=torch.float64, seed=5)
    case = [c.to(cuda_device) if isinstance(c, torch.Tensor) else c for c in case]
    kern, ref, gk, gr = run_both(*case, backend="cuda")
    assert_match(kern, ref, gk, gr)


def test_cuda_kernels_float32_and_surrogates(cuda_device):
    for surrogate in (FastSigmoid(10.0), Sigmoid(4.0)):
        case = make_case(STRUCTURES[1], T=5, N=33, P=1, dtype=torch.float32, seed=6, ge=False,
                         detach_reset=True, surrogate=surrogate)
        case = [c.to(cuda_device) if isinstance(c, torch.Tensor) else c for c in case]
        kern, ref, gk, gr = run_both(*case, backend="cuda")
        assert_match(kern, ref, gk, gr, rtol=2e-4, atol=2e-4)
