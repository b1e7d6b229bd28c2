"""Bad input gets a clear error naming the argument and what was expected."""

import numpy as np
import pytest
import torch

import neuro.backends as backends
import neuro.ops.lif as lif_ops
from neuro.functional import ALIFState, LIFState
from neuro.nn import ALIF, LIF, LIFCell


@pytest.mark.parametrize("backend", ["torch", "numba"])
def test_wrong_rank(backend):
    with pytest.raises(ValueError, match=r"x must have shape \[T, B, \*features\]"):
        LIF(backend=backend)(torch.rand(5))
    with pytest.raises(ValueError, match=r"\[B, \*features\]"):
        LIFCell()(torch.tensor(1.0))


@pytest.mark.parametrize("backend", ["torch", "numba"])
def test_integer_and_non_tensor_inputs(backend):
    with pytest.raises(TypeError, match="floating-point.*int64"):
        LIF(backend=backend)(torch.ones(3, 2, 4, dtype=torch.int64))
    with pytest.raises(TypeError, match="torch.Tensor"):
        LIF(backend=backend)(np.ones((3, 2, 4)))


@pytest.mark.parametrize("backend", ["torch", "numba"])
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_input(backend, bad):
    x = torch.rand(9, 3, 600)
    x[7, 2, 555] = bad
    with pytest.raises(ValueError, match="NaN or inf"):
        LIF(backend=backend)(x)
    with pytest.raises(ValueError, match="NaN or inf"):
        LIFCell()(x[7])


@pytest.mark.parametrize("backend", ["torch", "numba"])
def test_state_mismatches(backend):
    x = torch.rand(4, 2, 3)
    lif = LIF(backend=backend)
    with pytest.raises(ValueError, match=r"state.v has shape \(2, 4\), expected \(2, 3\)"):
        lif(x, LIFState(torch.zeros(2, 4)))
    with pytest.raises(TypeError, match=r"state.v has dtype torch.float64, expected torch.float32"):
        lif(x, LIFState(torch.zeros(2, 3, dtype=torch.float64)))
    with pytest.raises(TypeError, match="state must be a LIFState"):
        lif(x, ALIFState(torch.zeros(2, 3), torch.zeros(2, 3)))
    with pytest.raises(TypeError, match="state must be a ALIFState"):
        ALIF(backend=backend)(x, (torch.zeros(2, 3),))


def test_state_on_another_device_is_named(monkeypatch):
    x = torch.rand(4, 2, 3)
    meta_state = LIFState(torch.zeros(2, 3, device="meta"))
    with pytest.raises(ValueError, match=r"state.v is on meta, expected cpu"):
        LIF()(x, meta_state)


def test_non_contiguous_inputs_give_the_same_result():
    """Strided views (e.g. a batch-first tensor transposed to time-major) are accepted and copied."""
    base = torch.rand(3, 20, 5)  # [B, T, F]
    x = base.transpose(0, 1)
    assert not x.is_contiguous()
    assert torch.equal(LIF(backend="numba")(x)[0], LIF(backend="numba")(x.contiguous())[0])


def test_parameter_validation():
    with pytest.raises(ValueError, match="tau_mem must be positive"):
        LIF(tau_mem=-1.0)
    with pytest.raises(ValueError, match="smaller than dt"):
        LIF(tau_mem=1e-4, dt=1e-3)
    LIF(tau_mem=1e-4, dt=1e-3, integration="exact")  # fine: exact decays
    with pytest.raises(ValueError, match="dt must be a positive"):
        LIF(dt=0.0)
    with pytest.raises(ValueError, match="reset must be one of"):
        LIF(reset="soft")
    with pytest.raises(ValueError, match="threshold_op"):
        LIF(threshold_op="=>")
    with pytest.raises(ValueError, match="surrogate must be"):
        LIF(surrogate="heaviside_twice")
    with pytest.raises(ValueError, match="backend must be one of"):
        LIF(backend="cupy")
    with pytest.raises(TypeError, match="unexpected keyword"):
        LIF(tau_syn=1e-3)
    with pytest.raises(ValueError, match=r"tau_mem has shape \(4,\), which does not match the feature shape"):
        LIF(tau_mem=torch.full((4,), 5e-3))(torch.rand(3, 2, 5))


@pytest.fixture
def fresh_backend_cache():
    """The LIF op memoises how a backend resolves per device type; an earlier test's (simulator-on)
    answer must not hide what the monkeypatched environment below resolves to."""
    lif_ops._resolve_for.cache_clear()
    yield
    lif_ops._resolve_for.cache_clear()


def test_explicit_backends_never_fall_back(monkeypatch, fresh_backend_cache):
    x = torch.rand(3, 2, 4)
    with pytest.raises(ValueError, match="backend='numba' runs on CPU tensors"):
        backends.resolve_backend("numba", torch.empty(1, device="meta"))
    monkeypatch.setattr(backends, "cuda_simulator_enabled", lambda: False)
    monkeypatch.setattr(backends, "numba_cuda_installed", lambda: True)
    with pytest.raises(ValueError, match="backend='cuda' needs CUDA tensors"):
        LIF(backend="cuda")(x)
    monkeypatch.setattr(backends, "numba_cuda_installed", lambda: False)
    with pytest.raises(ImportError, match=r"pip install 'neuro\[cuda\]'"):
        LIF(backend="cuda")(x)


def test_auto_backend_choice():
    assert backends.resolve_backend("auto", torch.zeros(1)) == "numba"
    assert backends.resolve_backend("auto", torch.zeros(1), supported=("torch",)) == "torch"
    with pytest.raises(ValueError, match="not available for this op"):
        backends.resolve_backend("numba", torch.zeros(1), supported=("torch",))
