"""float64 ``torch.autograd.gradcheck`` of the kernel-backed autograd op.

A spike is a step function: its true derivative is 0 almost everywhere, so no finite-difference
check can validate a surrogate gradient. gradcheck therefore covers every output whose derivative is
defined — membrane / current / adaptation sequences and final states of spiking models with the
reset detached (the spike then enters only as a constant), and all outputs of the non-spiking
models — while the surrogate path is checked against the independent torch reference in
``test_lif_kernels.py``.
"""

import pytest
import torch

from lif_cases import STRUCTURES, make_case, structure_id
from neuro.ops.lif import LIFConfig, lif_scan
from neuro.surrogate import Triangle


def _smooth_outputs(cfg: LIFConfig, backend: str):
    def f(x, prm, i0, v0, a0):
        res = lif_scan(x, prm, i0, v0, a0, cfg, record=True, backend=backend)
        outs = [t for t in (res.v_seq, res.i_seq, res.a_seq, res.v_last) if t is not None]
        if cfg.has_syn:
            outs.append(res.i_last)
        if cfg.has_adapt:
            outs.append(res.a_last)
        return tuple(outs)
    return f


def _gradcheck_case(structure, backend: str, device: str = "cpu"):
    has_adapt = structure[1]
    if has_adapt:
        # spikes feed the adaptation state, so every output depends on the surrogate once a neuron
        # comes near threshold: check ALIF sub-threshold with a compact-support surrogate (exactly 0
        # there), which still exercises the adaptation recurrence and its parameters
        cfg, x, prm, i0, v0, a0 = make_case(structure, T=7, N=6, P=3, dtype=torch.float64, seed=11,
                                            detach_reset=True, surrogate=Triangle(10.0))
        x = x * 0.2 - 0.3
        v0 = v0 * 0.1
    else:
        cfg, x, prm, i0, v0, a0 = make_case(structure, T=7, N=6, P=3, dtype=torch.float64, seed=11,
                                            detach_reset=True)
    if has_adapt:
        assert lif_scan(x, prm, i0, v0, a0, cfg, backend="torch").spikes.sum() == 0
    inputs = [t.to(device).requires_grad_() for t in (x, prm, i0, v0, a0)]
    assert torch.autograd.gradcheck(_smooth_outputs(cfg, backend), inputs, eps=1e-6, atol=1e-7,
                                    rtol=1e-5, nondet_tol=0.0)


@pytest.mark.parametrize("structure", STRUCTURES, ids=structure_id)
def test_gradcheck_numba(structure):
    _gradcheck_case(structure, "numba")


@pytest.mark.parametrize("structure", [STRUCTURES[1], STRUCTURES[4], STRUCTURES[8], STRUCTURES[9]],
                         ids=structure_id)
def test_gradcheck_cuda(structure, cuda_device):
    _gradcheck_case(structure, "cuda", cuda_device)


def test_gradcheck_reset_path_with_straight_through_reference():
    """With the reset attached, the kernel's gradient equals torch autograd through the reference
    (same surrogate), checked on every input including the threshold row."""
    from lif_cases import run_both
    cfg, x, prm, i0, v0, a0 = make_case(STRUCTURES[0], T=12, N=9, P=9, dtype=torch.float64, seed=2)
    kern, ref, gk, gr = run_both(cfg, x, prm, i0, v0, a0, backend="numba")
    for a, b in zip(gk, gr):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
