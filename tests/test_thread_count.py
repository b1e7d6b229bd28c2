"""neuro's CPU kernels leave torch's intra-op thread count alone.

Starting Numba's OpenMP threading layer sets OpenMP's thread count to Numba's, and torch reports and
uses that count as its own; before ``neuro.ops._launch.numba_threads`` a user's
``torch.set_num_threads(1)`` became 2 after the first neuro CPU kernel. The layer starts once per
process, so each case runs in a fresh interpreter (Numba told to use 2 threads, whatever the cores).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

FIRST_KERNEL = {
    # a GIL-free chunked scan on neuro's own pool (run_cpu_chunks)
    "lif": "from neuro.nn import LIF\nLIF()(torch.rand(4, 2, 8))",
    # a prange kernel (call_cpu): its first launch would start the layer itself
    "prange": (
        "from numba import njit, prange\n"
        "from neuro.ops._launch import call_cpu\n"
        "@njit(parallel=True)\n"
        "def fill(a):\n"
        "    for i in prange(a.shape[0]):\n"
        "        a[i] = i\n"
        "call_cpu(fill, torch.zeros(64))"
    ),
}


@pytest.mark.parametrize("first", sorted(FIRST_KERNEL))
def test_first_cpu_kernel_keeps_torch_threads(first):
    code = "import torch\ntorch.set_num_threads(1)\n" + FIRST_KERNEL[first] + (
        "\nimport numba\n"
        "print(torch.get_num_threads(), numba.get_num_threads())")
    env = dict(os.environ, NUMBA_NUM_THREADS="2")
    env.pop("NUMBA_ENABLE_CUDASIM", None)
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    torch_threads, numba_count = map(int, proc.stdout.split()[-2:])
    assert numba_count == 2  # Numba's layer did start, with its own count
    assert torch_threads == 1  # and torch kept the user's
