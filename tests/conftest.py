"""Shared fixtures: deterministic seeds, the real-data folder (tests/data), the CUDA test device.

Every test that takes the ``cuda_device`` fixture is marked ``cuda`` at collection, so
``pytest -m cuda`` selects exactly the tests that run the CUDA kernels (natively on a GPU, else on
Numba's CUDA simulator) and ``pytest -m "not cuda"`` the rest.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """The real test files: ``tests/data`` in the repository (source, licence and SHA-256 list in
    each folder), or ``NEURO_SHARED_DATA`` when set."""
    return Path(os.environ.get("NEURO_SHARED_DATA", REPO / "tests" / "data"))


@pytest.fixture
def shared_data() -> Path:
    """The real recordings folder (part of the repository, so a fresh clone has it)."""
    path = shared_data_dir()
    if not path.is_dir():
        raise FileNotFoundError(f"test data folder {path} is absent: it is part of the repository "
                                "(tests/data); restore it with git, or unset NEURO_SHARED_DATA")
    return path


def cuda_test_device() -> str | None:
    """Where CUDA-backend tests run: a real GPU, the CPU under the CUDA simulator, or nowhere."""
    from neuro.backends import cuda_kernels_usable, cuda_simulator_enabled

    if not cuda_kernels_usable():
        return None
    return "cpu" if cuda_simulator_enabled() else "cuda"


@pytest.fixture
def cuda_device() -> str:
    """The device a CUDA-kernel test builds its tensors on: ``"cuda"`` on a GPU, ``"cpu"`` under
    the simulator (the test is skipped when neither is available). Compare results across devices
    after ``.cpu()``; pass ``device=`` wherever an API takes one."""
    device = cuda_test_device()
    if device is None:
        pytest.skip("no GPU and the Numba CUDA simulator is off (set NUMBA_ENABLE_CUDASIM=1)")
    return device


# Test modules whose CUDA tests run kernels that synchronise a few threads many times (the simulation event
# kernel's barriers, the delay and ELM kernels): under the CUDA simulator they get a 1 ms GIL switch interval.
FAST_SWITCH_MODULES = ("test_sim_", "test_kernel_bounds", "test_delay_gpu_design")


@pytest.fixture(autouse=True)
def _simulator_switch_interval(request):
    """A 1 ms GIL switch interval (Python's default is 5 ms) for the CUDA tests of
    :data:`FAST_SWITCH_MODULES` under Numba's CUDA simulator: it runs every CUDA thread as a Python
    thread while the launching thread busy-polls them for barriers, and with 5 ms slices the poller holds
    the GIL while the threads wait (measured 2-3 x faster: a 64-neuron network for 100 steps 1.2 s ->
    0.67 s, the delay tap sums 2.0 s -> 0.8 s). Not suite-wide: kernels with many threads and no
    barriers (the LIF scans) run several times slower with 1 ms slices."""
    if ("cuda_device" not in request.fixturenames
            or not request.path.name.startswith(FAST_SWITCH_MODULES)):
        yield
        return
    from neuro.backends import cuda_simulator_enabled

    if not cuda_simulator_enabled():
        yield
        return
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-3)
    yield
    sys.setswitchinterval(before)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark ``cuda`` every test that uses the ``cuda_device`` fixture (directly or through another
    fixture: ``item.fixturenames`` is the closure of what the test requests)."""
    for item in items:
        if "cuda_device" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.cuda)


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
