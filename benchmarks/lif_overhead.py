"""Per-call host overhead of a small LIF call against a bare numba-cuda kernel launch (issue 18).

    python benchmarks/lif_overhead.py --device cuda [--calls 3000] [--shape 10,1,128]
    NUMBA_ENABLE_CUDASIM=1 python benchmarks/lif_overhead.py --device cpu     # host path, launch mocked

A call of ``T, B, N = 10, 1, 128`` runs for a few microseconds on a GPU, so back-to-back calls are
bound by the host: the time per call of a long run of calls (one synchronisation at the end) is the
host overhead. Measured in one process, interleaved:

* ``bare launch``: a numba-cuda kernel of one array argument, its device array made once;
* ``bare LIF launch``: neuro's LIF forward kernel launched through Numba's dispatcher with every
  argument converted to a Numba device array once (the least a Numba launch of this kernel costs);
* ``neuro launcher``: the same kernel through ``neuro.ops._launch.launch_cuda`` with torch tensors
  (the argument list built once per signature, ``neuro.ops._fast_launch``);
* ``lif_scan``: the op (no grad): output allocation, checks, launch, non-finite flag;
* ``lif_scan fwd+bwd``: forward and backward of the op with a gradient;
* ``nn.LIF``: the module (parameters, state, functional layer, op).

The issue's target: ``lif_scan`` within 1.5x of ``bare LIF launch``. With ``--device cpu`` (under the
simulator) the launches are replaced by no-ops and only the host path of neuro is timed (the bare
launches need a GPU). Writes ``benchmarks/results/lif_overhead_<device>.json``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import harness
import torch


def _per_call(fn, calls: int, device: str, rounds: int = 5) -> float:
    """Median over rounds of the seconds per call of ``calls`` back-to-back calls."""
    fn()
    harness.sync(device)
    samples = []
    for _ in range(rounds):
        harness.sync(device)
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        harness.sync(device)
        samples.append((time.perf_counter() - t0) / calls)
    return statistics.median(samples)


def _lif_args(T: int, N: int, device: str):
    """The LIF forward kernel's arguments as the op builds them (no recording, no gradient)."""
    from neuro.ops._launch import LIF_CODES, non_finite_flag
    from neuro.ops._lif_runners import dtype_consts, placeholder_of
    from neuro.ops.lif import LIFConfig, kernel_config

    x = torch.randn(T, N, device=device)
    prm = torch.tensor([0, 1, .9, 1, 0, 1, 0, 0, 0.], device=device).view(9, 1)
    z = torch.zeros(N, device=device)
    kc = kernel_config(LIFConfig())
    ph = placeholder_of(torch.float32, torch.device(device))
    s = torch.empty(T, N, device=device)
    last = tuple(torch.empty(N, device=device) for _ in range(3))
    flag = non_finite_flag(torch.device(device))
    return (x, prm, dtype_consts(kc, torch.float32, torch.device(device)), (z, z, z), kc.reset, kc.ge,
            (s, ph, ph, ph), (True, False, False, False, False), last, (ph, ph, ph), flag.flag, LIF_CODES)


def run(device: str, shape: tuple, calls: int) -> dict:
    from neuro.kernels import lif_cuda
    from neuro.nn import LIF
    from neuro.ops import _lif_runners
    from neuro.ops._launch import as_cuda_array, current_stream, launch_cuda
    from neuro.ops.lif import LIFConfig, lif_scan

    T, B, F = shape
    N = B * F
    gpu = device == "cuda"
    fns = {}
    kernel = lif_cuda.forward_kernel(False, False, True)
    args = _lif_args(T, N, device)
    blocks, threads = lif_cuda.blocks_for(N), lif_cuda.THREADS_PER_BLOCK
    if gpu:
        from numba import cuda

        @cuda.jit
        def touch(a):
            i = cuda.grid(1)
            if i < a.shape[0]:
                a[i] += 1.0

        arr = cuda.device_array(128, dtype="float32")
        stream = current_stream(torch.device("cuda", torch.cuda.current_device()))
        fns["bare launch"] = lambda: touch[1, 128, stream](arr)
        converted = tuple(as_cuda_array(a) for a in args)
        fns["bare LIF launch"] = lambda: kernel[blocks, threads, stream](*converted)
        fns["neuro launcher"] = lambda: launch_cuda(kernel, blocks, threads, args)
    else:  # host path only: the kernels are not launched
        _lif_runners.launch_cuda = lambda *a, **k: None
    x = torch.randn(T, N, device=device)
    xg = x.clone().requires_grad_()
    prm = torch.tensor([0, 1, .9, 1, 0, 1, 0, 0, 0.], device=device).view(9, 1)
    z = torch.zeros(N, device=device)
    cfg = LIFConfig()

    def op():
        with torch.no_grad():
            lif_scan(x, prm, z, z, z, cfg, backend="cuda")

    def op_grad():
        xg.grad = None
        lif_scan(xg, prm, z, z, z, cfg, backend="cuda").spikes.sum().backward()

    lif = LIF(beta=0.9, backend="cuda")
    x3 = torch.randn(T, B, F, device=device)

    def module():
        with torch.no_grad():
            lif(x3)

    fns.update({"lif_scan": op, "lif_scan fwd+bwd": op_grad, "nn.LIF": module})
    times = {k: _per_call(f, calls, device) for k, f in fns.items()}
    base = times.get("bare LIF launch")
    print(f"T,B,N = {T},{B},{F} on {harness.hardware(device)}"
          + ("" if gpu else " (launches mocked: host path of neuro only)"))
    for k, v in times.items():
        ratio = f"  {v / base:5.2f}x bare LIF launch" if base else ""
        print(f"  {k:<20}{v * 1e6:9.1f} us/call{ratio}")
    if base:
        r = times["lif_scan"] / base
        print(f"target: lif_scan within 1.5x of a bare numba-cuda launch of the kernel: {r:.2f}x "
              f"({'met' if r <= 1.5 else 'missed'}); vs the one-array bare launch "
              f"{times['lif_scan'] / times['bare launch']:.2f}x")
    return dict(shape=[T, B, F], calls=calls, us_per_call={k: v * 1e6 for k, v in times.items()},
                mocked_launch=not gpu)


def _shape(text: str) -> tuple:
    shape = tuple(int(v) for v in text.split(","))
    if len(shape) != 3 or min(shape) < 1:
        raise argparse.ArgumentTypeError(f"expected T,B,N, got {text!r}")
    return shape


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--shape", type=_shape, default=(10, 1, 128), metavar="T,B,N")
    args = parser.parse_args()
    result = run(args.device, args.shape, args.calls)
    result.update(hardware=harness.hardware(args.device), device=args.device, torch=torch.__version__)
    print("wrote", harness.write_results(f"lif_overhead_{args.device}", result))


if __name__ == "__main__":
    main()
