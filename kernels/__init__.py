"""Torch-free Numba kernels of neuro (installed as ``neuro.kernels``).

Each recurrence has one scalar step description, a ``*_math`` module of plain Python functions,
compiled for each target by the module's ``compile_for(target)`` (``_jit.compile_math``: ``"cpu"``
inlines them into ``numba.njit`` kernels, ``"cuda"`` makes ``numba.cuda`` device functions) and
used by a CPU scan (``@njit(parallel=True)``, or GIL-free ``@njit(nogil=True)`` kernels over chunks
run on threads by ``_parallel``) and a CUDA scan (``numba.cuda``), both working on plain
``[T, N]`` arrays. The host side (array conversion, launch on torch's stream, CPU chunk threads)
lives in ``neuro.ops._launch``.

Numerics contract
-----------------
Every kernel family states in its ``*_cuda`` module how its CUDA results relate to its CPU results,
and its tests check it. The rules all families build on:

* **No floating-point contraction.** The CPU kernels are compiled without ``fastmath`` unless their
  module says otherwise, and every CUDA kernel of this package with NVVM's ``-fma=0``
  (``_cuda_device``), so ``a * b + c`` rounds twice on both, as in the torch reference.
  ``tests/test_kernel_ptx.py`` compiles the kernels' PTX on the CPU and finds no ``fma``.
* **Bit-identical where the operations are.** A family whose two targets run the same IEEE
  operations (``+ - * /``, comparisons) in the same order is bit-identical; where a kernel cannot be
  (a transcendental function from libdevice vs libm, a different summation order, float atomics),
  its module states the bound and a test checks it.
* **Non-finite values are never returned unreported.** Parameters are validated when set. Inputs
  and initial states are checked inside the kernels, as they are read (a running sum of
  ``value * 0``, NaN iff a value is NaN or inf: no extra pass, no host synchronisation). One
  exception type, ``neuro.ops._launch.NonFiniteError`` (a ``ValueError`` and a
  ``FloatingPointError``): the CPU kernels return their sums and the op raises at once; the CUDA
  kernels write a code into a device flag (``neuro.ops._launch.NonFiniteFlag``) that the host reads
  without waiting, so the error is raised at the next CUDA op on the device, or at
  ``neuro.ops._launch.check_numerics()`` (which synchronises); under the CUDA simulator at once. The
  torch reference backend checks with ``torch.isfinite`` (an extra pass, it is the oracle).

The LIF family (``lif_*``, and its users ``amsu_*`` and ``sim_*``):

* LIF, CubaLIF, ALIF, LI, CubaLI scans (``lif_cpu``, ``lif_cuda``): spikes and every recorded state
  are **bit-identical** between the CUDA kernels, the CPU kernels and the torch reference, in
  float32 and float64 (the forward uses only ``+ - *`` and comparisons, in ``lif_math``'s order).
  Gradients: the CPU and CUDA kernels compute each neuron's gradient with the same operations in
  the same order, so ``dx`` and the initial-state and per-neuron coefficient gradients are
  bit-identical between them, except with the ``Sigmoid`` surrogate (``exp``: libdevice vs libm,
  each within 2 ulp); the sum of coefficient gradients over the batch is torch's (its order depends
  on the device). Against the torch reference (autograd's own order) gradients agree to rounding.
  Inputs and initial states ``i0, v0, a0`` are checked in the forward kernels. Mixed precision
  (CUDA, ``_cuda_io``): fp16/bf16 inputs are converted exactly to float32 as they are loaded and the
  state stays float32, so spikes and states are those of ``x.float()``; ``dx`` is the float32
  gradient rounded to the input's format as torch's ``.to()`` rounds (to nearest, ties to even).
* AM-SU (``amsu_*``): the same, forward bit-identical to the reference and between targets;
  inputs and initial states checked in the forward kernels.
* Network simulation (``sim_*``): the CPU kernel equals ``neuro.sim``'s torch reference when the
  sums of weights are exact. The CUDA event kernel (``sim_cuda``, opt-in until measured faster on a
  GPU: ``NEURO_SIM_CUDA_KERNEL=events``) is **bit-identical**
  to the CPU kernel in float32 and float64 and identical from run to run: each target's owner
  applies the spikes of a step in increasing synapse index (the CPU kernel's order), with no float
  atomics (``test_kernel_ptx.py`` checks the PTX, ``tests/test_sim_determinism.py`` the spikes and
  states with non-dyadic weights). The first CUDA kernel (``sim_cuda_atomic``, the default) delivers
  spikes with float atomics: the order of each buffer sum, and its last bits, may vary from run to
  run, and a neuron near threshold may fire a step apart from the CPU (float64, measured on an H200).
  Inputs are validated when the network is built (``neuro.sim``), so the kernels do not check them.

The delay family (``delay_*``) is deterministic and bounded, not bit-identical, between targets
(summation orders differ; ``delay_cuda`` states the bound). Its CPU kernels contract
(``fastmath={"contract"}``) and its GPU tile kernels use explicit fused multiply-adds
(``cuda.fma``), an exception to the first rule above that stays within the family's bound.
"""

if __name__ != "neuro.kernels":  # the folder is named kernels/ but must never be imported as such
    raise ImportError(
        "the kernels/ folder of the neuro repository is the package 'neuro.kernels'; it was imported "
        f"as {__name__!r} because the repository root is on sys.path. Install neuro "
        "(pip install -e .) and import neuro.kernels; run tests with `pytest`, not `python -m pytest`."
    )
