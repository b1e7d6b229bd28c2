"""Shared fixtures: deterministic seeds, the shared real-data folder, the CUDA test device."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """``../shared/data`` next to the repository (override with ``NEURO_SHARED_DATA``)."""
    return Path(os.environ.get("NEURO_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture
def shared_data() -> Path:
    """The real recordings folder; tests using it skip cleanly when it is absent."""
    path = shared_data_dir()
    if not path.is_dir():
        pytest.skip(f"shared data folder {path} is absent")
    return path


def cuda_test_device() -> str | None:
    """Where CUDA-backend tests run: a real GPU, the CPU under the CUDA simulator, or nowhere."""
    from neuro.backends import cuda_kernels_usable, cuda_simulator_enabled

    if not cuda_kernels_usable():
        return None
    return "cpu" if cuda_simulator_enabled() else "cuda"


@pytest.fixture
def cuda_device() -> str:
    device = cuda_test_device()
    if device is None:
        pytest.skip("no GPU and the Numba CUDA simulator is off (set NUMBA_ENABLE_CUDASIM=1)")
    return device


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    np.random.seed(0)
    yield


@pytest.fixture
def one_torch_thread():
    """Run a test with one torch thread: tiny per-step matmuls only spin extra threads on CI's
    two cores. Use with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
