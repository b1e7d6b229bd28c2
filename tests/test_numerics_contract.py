"""The numerics contract of the LIF-family kernels (``neuro.kernels``' docstring), tested.

(a) Bit-identity: the CUDA kernels (natively, or on Numba's simulator), the CPU kernels and the torch
    reference give identical spikes and identical recorded states, in float32 and float64, for every
    model structure (the CUDA kernels compile without floating-point contraction; see
    ``test_kernel_ptx.py`` for the PTX).
(b) Non-finite values: NaN or inf in the input or in any initial state is never returned
    unreported. The torch and numba backends raise :class:`NonFiniteError` at once; the cuda backend
    checks inside its kernels and raises at the next CUDA op on the device or at
    :func:`check_numerics` at the latest (at once under the simulator). After an error the next
    clean call works.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

import amsu_cases
from lif_cases import STRUCTURES, make_case, structure_id
from neuro.ops._launch import NonFiniteError, check_numerics
from neuro.ops.amsu import amsu_scan
from neuro.ops.lif import lif_scan
from neuro.surrogate import ATan, FastSigmoid, Triangle

STATES = ("i0", "v0", "a0")
BAD = (float("nan"), float("inf"), -float("inf"))


def test_one_exception_type_for_every_backend():
    assert issubclass(NonFiniteError, ValueError) and issubclass(NonFiniteError, FloatingPointError)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("structure", STRUCTURES, ids=structure_id)
def test_cuda_cpu_and_reference_bit_identical(structure, dtype, cuda_device):
    cfg, x, prm, i0, v0, a0 = make_case(structure, T=7, N=48, P=12, dtype=dtype, seed=11)
    results = {b: lif_scan(x, prm, i0, v0, a0, cfg, record=True, backend=b) for b in ("torch", "numba")}
    moved = [t.to(cuda_device) for t in (x, prm, i0, v0, a0)]
    results["cuda"] = lif_scan(*moved, cfg, record=True, backend="cuda")
    check_numerics(cuda_device)
    ref = results["torch"]
    for backend in ("numba", "cuda"):
        for name, a, b in zip(ref._fields, results[backend], ref):
            if b is not None:
                assert torch.equal(a.cpu(), b), f"{backend}: {name} differs from the reference"


def _kernel_grads(case, backend: str, device: str, surrogate) -> list:
    cfg, x, prm, i0, v0, a0 = case
    cfg = dataclasses.replace(cfg, surrogate=surrogate)
    leaves = [t.detach().to(device).clone().requires_grad_() for t in (x, prm, i0, v0, a0)]
    res = lif_scan(*leaves, cfg, record=True, backend=backend)
    gen = torch.Generator().manual_seed(7)
    loss = sum((r * torch.randn(r.shape, dtype=r.dtype, generator=gen).to(device)).sum()
               for r in res if r is not None)
    return [g.cpu() for g in torch.autograd.grad(loss, leaves, allow_unused=True, materialize_grads=True)]


@pytest.mark.parametrize("surrogate", [ATan(2.0), FastSigmoid(10.0), Triangle(0.7)], ids=repr)
@pytest.mark.parametrize("structure", STRUCTURES, ids=structure_id)
def test_cpu_and_cuda_kernel_gradients_bit_identical(structure, surrogate, cuda_device):
    """Per neuron (``P = N``: no batch sum of coefficient gradients) with surrogates without ``exp``."""
    case = make_case(structure, T=6, N=40, P=40, dtype=torch.float64, seed=12)
    cpu = _kernel_grads(case, "numba", "cpu", surrogate)
    gpu = _kernel_grads(case, "cuda", cuda_device, surrogate)
    for name, a, b in zip(("x", "prm", "i0", "v0", "a0"), cpu, gpu):
        assert torch.equal(a, b), f"gradient of {name} differs"


def _lif_case(where: str, bad: float, device: str):
    cfg, x, prm, i0, v0, a0 = make_case(STRUCTURES[4], T=5, N=300, P=1, dtype=torch.float32, seed=2)
    tensors = dict(x=x, prm=prm, i0=i0, v0=v0, a0=a0)
    if where == "x":
        tensors["x"][3, 217] = bad
    else:
        tensors[where][171] = bad
    return cfg, {k: t.to(device) for k, t in tensors.items()}


def _scan_reported(backend: str, device: str, cfg, t: dict) -> None:
    """Run a scan the way a caller would, then ask for the report (the latest point of the contract)."""
    res = lif_scan(t["x"], t["prm"], t["i0"], t["v0"], t["a0"], cfg, record=True, backend=backend)
    if backend == "cuda":
        check_numerics(device)
    return res


@pytest.mark.parametrize("bad", BAD, ids=str)
@pytest.mark.parametrize("where", ("x",) + STATES)
@pytest.mark.parametrize("backend", ["torch", "numba"])
def test_cpu_backends_raise_at_once(backend, where, bad):
    cfg, t = _lif_case(where, bad, "cpu")
    with pytest.raises(NonFiniteError, match="NaN or inf"):
        lif_scan(t["x"], t["prm"], t["i0"], t["v0"], t["a0"], cfg, backend=backend)


@pytest.mark.parametrize("P", [1, 40])
@pytest.mark.parametrize("structure", STRUCTURES, ids=structure_id)
def test_numba_finds_a_bad_input_at_any_step_of_every_structure(structure, P):
    """The CPU kernels find a non-finite input through the final state instead of testing every input:
    every ``x[t, n]`` enters neuron ``n``'s state and stays non-finite there, whatever the reset (zero
    reset: ``inf * 0`` is NaN), at the first step as at the last; uniform and per-neuron coefficients."""
    for step in (0, -1):
        for bad in BAD:
            cfg, x, prm, i0, v0, a0 = make_case(structure, T=6, N=40, P=P, dtype=torch.float32, seed=5)
            x[step, 17] = bad
            with pytest.raises(NonFiniteError, match="^x contains NaN or inf"):
                lif_scan(x, prm, i0, v0, a0, cfg, backend="numba")


def test_numba_reports_a_membrane_overflow():
    """A finite input too large for the dtype overflows the membrane to inf: reported, not returned."""
    cfg, x, prm, i0, v0, a0 = make_case(STRUCTURES[0], T=6, N=40, P=1, dtype=torch.float32, seed=5)
    x[:, 9] = 3.0e38  # finite; beta * v + x exceeds float32's largest value at the second step
    with pytest.raises(NonFiniteError, match="overflowed"):
        lif_scan(x, prm, i0, v0, a0, cfg, backend="numba")


@pytest.mark.parametrize("bad", BAD, ids=str)
@pytest.mark.parametrize("where", ("x",) + STATES)
def test_cuda_backend_reports_by_check_numerics_at_the_latest(where, bad, cuda_device):
    cfg, t = _lif_case(where, bad, cuda_device)
    with pytest.raises(NonFiniteError, match="NaN or inf"):
        _scan_reported("cuda", cuda_device, cfg, t)


@pytest.mark.parametrize("backend", ["numba", "cuda"])
def test_a_clean_call_after_an_error_works(backend, request):
    device = request.getfixturevalue("cuda_device") if backend == "cuda" else "cpu"
    cfg, bad = _lif_case("v0", float("nan"), device)
    with pytest.raises(NonFiniteError):
        _scan_reported(backend, device, cfg, bad)
    cfg, clean = _lif_case("x", 0.0, device)
    res = _scan_reported(backend, device, cfg, clean)
    assert all(bool(torch.isfinite(r).all()) for r in res if r is not None)


def test_the_error_names_the_input_or_the_state():
    cfg, t = _lif_case("x", float("nan"), "cpu")
    with pytest.raises(NonFiniteError, match=r"^x contains"):
        _scan_reported("numba", "cpu", cfg, t)
    cfg, t = _lif_case("a0", float("inf"), "cpu")
    with pytest.raises(NonFiniteError, match=r"initial state \(i0, v0, a0\)"):
        _scan_reported("numba", "cpu", cfg, t)


def _amsu_bad(where: str, device: str):
    cfg, dom, x, prm, aprm, i0, v0, a0 = amsu_cases.make_case(amsu_cases.STRUCTURES[0], T=4, B=2,
                                                              dtype=torch.float32, seed=1)
    tensors = dict(x=x, i0=i0, v0=v0, a0=a0)
    tensors[where].view(-1)[3] = float("nan")
    tensors = {k: t.to(device) for k, t in tensors.items()}
    return cfg, dom, tensors, prm.to(device), aprm.to(device)


@pytest.mark.parametrize("where", ("x",) + STATES)
@pytest.mark.parametrize("backend", ["torch", "numba", "cuda"])
def test_amsu_never_returns_nan_unreported(backend, where, request):
    device = request.getfixturevalue("cuda_device") if backend == "cuda" else "cpu"
    cfg, dom, t, prm, aprm = _amsu_bad(where, device)
    with pytest.raises(NonFiniteError, match="NaN or inf"):
        amsu_scan(t["x"], prm, aprm, dom, t["i0"], t["v0"], t["a0"], cfg, backend=backend)
        if backend == "cuda":
            check_numerics(device)
