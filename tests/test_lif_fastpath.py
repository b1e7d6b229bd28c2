"""The fast LIF path (issue 18): multi-block CUDA scans, no host sync or extra pass, mixed precision,
gradient modes, second-order gradients, CPU output buffers.

CUDA tests take the ``cuda_device`` fixture: natively on a GPU, on Numba's simulator in CI.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

import neuro.ops._lif_runners as runners
from lif_cases import STRUCTURES, make_case, run_both, structure_id
from neuro.functional import LIFState
from neuro.nn import LIF
from neuro.ops import _buffers
from neuro.ops._launch import check_numerics
from neuro.ops.lif import lif_scan
from neuro.surrogate import ATan, FastSigmoid


def _moved(case, device):
    return [c.to(device) if isinstance(c, torch.Tensor) else c for c in case]


@pytest.mark.parametrize("structure", STRUCTURES, ids=structure_id)
def test_cuda_multi_block_scan_matches_reference(structure, cuda_device):
    """T = 21 spans three blocks of lif_cuda.STEPS (the last one partial): the backward restarts from
    the forward's checkpoints, and spikes, states and gradients still match the reference."""
    case = make_case(structure, T=21, N=24, P=6, dtype=torch.float64, seed=31)
    kern, ref, gk, gr = run_both(*_moved(case, cuda_device), backend="cuda")
    for name, a, b in zip(ref._fields, kern, ref):
        if b is not None:
            assert torch.equal(a.cpu(), b.cpu()), f"{name} differs"
    for name, a, b in zip(("x", "prm", "i0", "v0", "a0"), gk, gr):
        torch.testing.assert_close(a.cpu(), b.cpu(), rtol=1e-9, atol=1e-10, msg=f"gradient of {name}")


@pytest.mark.parametrize("structure", [STRUCTURES[0], STRUCTURES[3], STRUCTURES[5], STRUCTURES[8]],
                         ids=structure_id)
def test_cuda_multi_block_gradients_bit_identical_to_cpu(structure, cuda_device):
    cfg, x, prm, i0, v0, a0 = make_case(structure, T=19, N=16, P=16, dtype=torch.float64, seed=32,
                                        surrogate=FastSigmoid(10.0))
    grads = {}
    for backend, device in (("numba", "cpu"), ("cuda", cuda_device)):
        leaves = [t.detach().to(device).clone().requires_grad_() for t in (x, prm, i0, v0, a0)]
        res = lif_scan(*leaves, cfg, record=True, backend=backend)
        gen = torch.Generator().manual_seed(3)
        loss = sum((r * torch.randn(r.shape, dtype=r.dtype, generator=gen).to(device)).sum()
                   for r in res if r is not None)
        grads[backend] = [g.cpu() for g in torch.autograd.grad(loss, leaves, allow_unused=True,
                                                                 materialize_grads=True)]
    for name, a, b in zip(("x", "prm", "i0", "v0", "a0"), grads["numba"], grads["cuda"]):
        assert torch.equal(a, b), f"gradient of {name} differs"


class _OpLog(TorchDispatchMode):
    """Every aten op run, with the largest number of elements among its tensor arguments / results."""

    def __init__(self):
        super().__init__()
        self.ops: list[tuple[str, int]] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        flat = torch.utils._pytree.tree_leaves((args, kwargs, out))
        size = max((t.numel() for t in flat if isinstance(t, torch.Tensor)), default=0)
        self.ops.append((str(func.overloadpacket.__name__), size))
        return out


# ops that only allocate or make views: free at any size
_METADATA_OPS = {"empty", "empty_strided", "new_empty", "new_empty_strided", "view", "_unsafe_view", "detach",
                 "alias", "as_strided", "reshape", "_reshape_alias", "t", "unsqueeze", "squeeze",
                 "expand", "slice", "select", "split", "unbind", "lift_fresh", "empty_like"}


def _check_one_call(fn, full: int, user_ops=("sum",)):
    """Run ``fn`` under the op log: no op other than allocation / views (and the caller's own loss,
    ``user_ops``) touches ``full`` elements, and no op reads a tensor back to the host
    (``_local_scalar_dense`` is what ``bool()``/``item()`` call)."""
    with _OpLog() as log:
        fn()
    heavy = [name for name, size in log.ops
             if size >= full and name not in _METADATA_OPS and name not in user_ops]
    # reading a value back, or copying anything (a host-to-device copy of a Python number syncs)
    syncs = [name for name, _ in log.ops if name in ("_local_scalar_dense", "item", "is_nonzero", "copy_",
                                                      "_to_copy", "_copy_from", "lift_fresh_copy")]
    return heavy, syncs, log.ops


def test_no_host_sync_and_no_extra_pass_per_call(cuda_device, monkeypatch):
    """One forward launch and one backward launch per call; besides the kernels, only allocations and
    views touch [T, N]-sized tensors (no isfinite, clone, contiguous copy, conversion or zero fill);
    nothing is read back to the host; torch.cuda.synchronize is never called."""
    launches = []
    real = runners.launch_cuda
    monkeypatch.setattr(runners, "launch_cuda", lambda *a, **k: (launches.append(a[0]), real(*a, **k)))
    if torch.cuda.is_available():
        def no_sync(*_a, **_k):
            raise AssertionError("host synchronisation inside a LIF call")
        monkeypatch.setattr(torch.cuda, "synchronize", no_sync)
        monkeypatch.setattr(torch.cuda.Stream, "synchronize", no_sync)
        monkeypatch.setattr(torch.cuda.Event, "synchronize", no_sync)
    T, N = 21, 64
    cfg, x, prm, i0, v0, a0 = make_case(STRUCTURES[0], T=T, N=N, P=1, dtype=torch.float32, seed=1)
    x, prm, i0, v0, a0 = (t.to(cuda_device) for t in (x, prm, i0, v0, a0))
    xg = x.clone().requires_grad_()
    lif_scan(xg, prm, i0, v0, a0, cfg, backend="cuda").spikes.sum().backward()  # warm-up: compile, caches
    launches.clear()

    def train_step():
        xg.grad = None
        lif_scan(xg, prm, i0, v0, a0, cfg, backend="cuda").spikes.sum().backward()

    heavy, syncs, ops = _check_one_call(train_step, T * N)
    assert not heavy, f"extra full passes: {heavy}"
    assert not syncs, f"host reads: {syncs}"
    assert len(launches) == 2, f"expected one forward and one backward launch, got {len(launches)}"
    with torch.no_grad():
        heavy, syncs, _ = _check_one_call(lambda: lif_scan(x, prm, i0, v0, a0, cfg, backend="cuda"), T * N)
    assert not heavy and not syncs
    monkeypatch.undo()
    check_numerics(cuda_device)


def test_module_call_makes_no_extra_pass(cuda_device):
    """The same through neuro.nn.LIF (functional layer included): the only [T, B, F]-sized work is the
    kernels' and the allocation of their outputs."""
    from neuro.nn import LIF

    T, B, F = 21, 2, 32
    lif = LIF(beta=0.9, backend="cuda")
    x = torch.randn(T, B, F, device=cuda_device).requires_grad_()
    lif(x)[0].sum().backward()

    def call():
        x.grad = None
        lif(x)[0].sum().backward()

    heavy, syncs, ops = _check_one_call(call, T * B * F)
    assert not heavy, f"extra full passes: {heavy}"
    assert not syncs, f"host reads: {syncs}"


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize("structure", [STRUCTURES[0], STRUCTURES[5], STRUCTURES[7], STRUCTURES[9]],
                         ids=structure_id)
def test_cuda_mixed_precision_equals_float32_on_converted_input(structure, dtype, cuda_device):
    """fp16/bf16 x: spikes (in x's dtype) equal the float32 kernel's on x.float(); states and
    recorded sequences (float32) are identical; dx is the float32 dx rounded to x's dtype."""
    cfg, x, prm, i0, v0, a0 = make_case(structure, T=19, N=40, P=8, dtype=torch.float32, seed=41)
    x = (x * 1.5).to(dtype)
    moved = [t.to(cuda_device) for t in (x, prm, i0, v0, a0)]
    outs, grads = {}, {}
    for name, xin in (("low", moved[0]), ("f32", moved[0].float())):
        leaves = [xin.detach().clone().requires_grad_(), *(t.detach().clone().requires_grad_()
                                                           for t in moved[1:])]
        res = lif_scan(*leaves, cfg, record=True, backend="cuda")
        gen = torch.Generator().manual_seed(5)
        w = torch.randn(x.shape, generator=gen).to(dtype).to(cuda_device)
        out = res.spikes if res.spikes is not None else res.v_seq
        loss = (out * w.to(out.dtype)).sum() + res.v_last.sum()
        grads[name] = torch.autograd.grad(loss, leaves)
        outs[name] = res
    if outs["low"].spikes is not None:
        assert outs["low"].spikes.dtype == dtype
        assert torch.equal(outs["low"].spikes.float().cpu(), outs["f32"].spikes.cpu())
    for field in ("v_seq", "i_seq", "a_seq", "i_last", "v_last", "a_last"):
        a, b = getattr(outs["low"], field), getattr(outs["f32"], field)
        if b is not None:
            assert a.dtype == torch.float32 and torch.equal(a.cpu(), b.cpu()), field
    assert grads["low"][0].dtype == dtype
    if structure[2]:  # spiking: the spike gradient arrives in x's dtype, exactly as in the f32 run
        assert torch.equal(grads["low"][0].cpu(), grads["f32"][0].to(dtype).cpu())
    for a, b in zip(grads["low"][1:], grads["f32"][1:]):
        assert torch.equal(a.cpu(), b.cpu())
    check_numerics(cuda_device)


@pytest.mark.parametrize("backend", ["numba", "cuda"])
def test_scalar_gradient_is_not_expanded(backend, request):
    """``out.sum().backward()`` sends a stride-0 gradient: read as one value, same result as a full
    tensor of ones."""
    device = request.getfixturevalue("cuda_device") if backend == "cuda" else "cpu"
    cfg, x, prm, i0, v0, a0 = make_case(STRUCTURES[4], T=21, N=30, P=1, dtype=torch.float64, seed=2)
    res_grads = []
    for scalar in (True, False):
        xg = x.to(device).requires_grad_()
        out = lif_scan(xg, prm.to(device), i0.to(device), v0.to(device), a0.to(device), cfg,
                       backend=backend).spikes
        if scalar:
            out.sum().backward()
        else:
            out.backward(torch.ones_like(out))
        res_grads.append(xg.grad.cpu())
    assert torch.equal(*res_grads)


@pytest.mark.parametrize("backend", ["numba", "cuda"])
def test_second_order_gradient_raises(backend, request):
    """The kernels' backward is not differentiable: create_graph=True must not come back detached."""
    device = request.getfixturevalue("cuda_device") if backend == "cuda" else "cpu"
    cfg, x, prm, i0, v0, a0 = make_case(STRUCTURES[0], T=5, N=8, P=1, dtype=torch.float64, seed=3)
    xg = x.to(device).requires_grad_()
    out = lif_scan(xg, prm.to(device), i0.to(device), v0.to(device), a0.to(device), cfg, backend=backend)
    (g,) = torch.autograd.grad(out.spikes.sum(), xg, create_graph=True)
    with pytest.raises(RuntimeError, match="not differentiable: second-order"):
        g.sum().backward()


def test_second_order_gradient_through_the_reference():
    cfg, x, prm, i0, v0, a0 = make_case(STRUCTURES[0], T=5, N=8, P=1, dtype=torch.float64, seed=3,
                                        surrogate=ATan(2.0))
    xg = x.requires_grad_()
    out = lif_scan(xg, prm, i0, v0, a0, cfg, backend="torch")
    (g,) = torch.autograd.grad(out.spikes.sum(), xg, create_graph=True)
    g.sum().backward()
    assert xg.grad is not None and torch.isfinite(xg.grad).all()


def test_cpu_outputs_reuse_their_buffers():
    """Large CPU outputs come back from the buffer cache once the previous ones are freed, never while
    they are held."""
    cfg, x, prm, i0, v0, a0 = make_case(STRUCTURES[0], T=64, N=8192, P=1, dtype=torch.float32, seed=4)
    first = lif_scan(x, prm, i0, v0, a0, cfg, backend="numba").spikes
    held = first.data_ptr()
    second = lif_scan(x, prm, i0, v0, a0, cfg, backend="numba").spikes
    assert second.data_ptr() != held and torch.equal(first, second)
    del first
    third = lif_scan(x, prm, i0, v0, a0, cfg, backend="numba").spikes
    assert third.data_ptr() == held and torch.equal(third, second)
    assert _buffers.held_bytes() <= _buffers.max_bytes()


def test_buffer_cache_can_be_turned_off():
    old = _buffers.max_bytes()
    try:
        _buffers.set_max_bytes(0)
        before = _buffers.held_bytes()
        t = _buffers.empty((1024, 1024), torch.float32)
        assert t.shape == (1024, 1024) and _buffers.held_bytes() == before
    finally:
        _buffers.set_max_bytes(old)


def test_dtype_errors_name_the_argument():
    cfg, x, prm, i0, v0, a0 = make_case(STRUCTURES[0], T=3, N=4, P=1, dtype=torch.float32, seed=0)
    with pytest.raises(TypeError, match="v0"):
        lif_scan(x, prm, i0, v0.double(), a0, cfg)
    with pytest.raises(TypeError, match="x has dtype"):
        lif_scan(x.half(), prm.double(), i0.double(), v0.double(), a0.double(), cfg)


def test_low_precision_on_the_cpu_backends_matches_float32():
    cfg, x, prm, i0, v0, a0 = make_case(STRUCTURES[0], T=9, N=16, P=1, dtype=torch.float32, seed=6)
    xb = x.to(torch.bfloat16)
    for backend in ("numba", "torch"):
        low = lif_scan(xb, prm, i0, v0, a0, cfg, backend=backend)
        ref = lif_scan(xb.float(), prm, i0, v0, a0, cfg, backend=backend)
        assert low.spikes.dtype == torch.bfloat16
        assert torch.equal(low.spikes.float(), ref.spikes) and torch.equal(low.v_last, ref.v_last)


def test_config_variants_share_kernel_configs():
    from neuro.ops.lif import kernel_config

    cfg = make_case(STRUCTURES[0], T=2, N=2, P=1, dtype=torch.float32, seed=0)[0]
    assert kernel_config(cfg) is kernel_config(dataclasses.replace(cfg))


_FLATTEN_CHECK = r"""
import json, sys, types
import numpy as np
sys.path.insert(0, sys.argv[1])
import test_kernel_ptx as ptx
from numba.cuda.args import ArgHint
from numba.cuda.dispatcher import _Kernel
from numba.cuda.typing.typeof import typeof
from neuro.ops._fast_launch import pointer_slots

class Fake(ArgHint):
    def __init__(self, arr, ptr):
        self.arr, self.ptr = arr, ptr
    def to_device(self, retr, stream=0):
        a = self.arr
        layout = types.SimpleNamespace(strides_in_bytes=tuple(a.strides), is_contiguous_c=True,
                                       is_contiguous_f=False)
        return types.SimpleNamespace(size=a.size, dtype=a.dtype, ptr=self.ptr, shape=a.shape, _layout=layout)

def hint(args, ptrs):
    out = []
    for a in args:
        if isinstance(a, tuple):
            out.append(tuple(hint(a, ptrs)))
        elif isinstance(a, np.ndarray):
            ptrs.append(0x7F0000000000 + 4096 * len(ptrs))
            out.append(Fake(a, ptrs[-1]))
        else:
            out.append(a)
    return out

checked = 0
for build in (ptx.lif_forward_args, ptx.lif_backward_args):
    for dtype in (np.float32, np.float64):
        args = build(dtype)
        ptrs = []
        hinted = hint(args, ptrs)
        argtypes = [typeof(a) for a in args]
        params = []
        me = type("Me", (), {"extensions": [], "_prepare_args": _Kernel._prepare_args})()
        for ty, val in zip(argtypes, hinted):
            _Kernel._prepare_args(me, ty, val, 0, [], params)
        slots, length = pointer_slots(argtypes)
        assert length == len(params), (length, len(params))
        assert [params[s] for s in slots] == ptrs
        checked += 1
print(json.dumps({"checked": checked}))
"""


def test_fast_launch_parameter_layout_is_numbas(tmp_path):
    """The fast launcher writes data pointers at the positions Numba's own ``_Kernel._prepare_args``
    puts them (checked on the LIF kernels' argument lists, with fake device arrays: no GPU needed;
    in a subprocess without the simulator, whose numba.cuda has no dispatcher)."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    pytest.importorskip("numba_cuda")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    script = tmp_path / "flatten_check.py"
    script.write_text(_FLATTEN_CHECK)
    proc = subprocess.run([sys.executable, str(script), str(Path(__file__).resolve().parent)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1])["checked"] == 4


def test_fast_and_numba_launch_paths_agree(cuda_device, monkeypatch):
    """Natively: the fast launcher and Numba's dispatcher (NEURO_CUDA_LAUNCH=numba) give identical
    results, repeatedly (template reuse) and for a second shape (a new signature)."""
    results = {}
    for mode in ("fast", "numba"):
        monkeypatch.setenv("NEURO_CUDA_LAUNCH", mode)
        for T, N in ((21, 40), (21, 40), (9, 24)):
            case = make_case(STRUCTURES[5], T=T, N=N, P=4, dtype=torch.float32, seed=T + N)
            kern, _, gk, _ = run_both(*_moved(case, cuda_device), backend="cuda")
            results.setdefault(mode, []).append([t.cpu() for t in (*[r for r in kern if r is not None], *gk)])
    for a, b in zip(results["fast"], results["numba"]):
        for x, y in zip(a, b):
            assert torch.equal(x, y)


@pytest.mark.parametrize("backend", ["numba", "torch"])
def test_fresh_state_constants_serve_inference_and_training(backend):
    """A scan started without a state reads shared constant initial states (no fill right before the
    kernel). Made first in inference mode, they still serve a call that records gradients, and a
    non-zero v_leak gets its own constant."""
    x = torch.rand(5, 3, 7)
    with torch.inference_mode():
        LIF(beta=0.9, backend=backend)(x)
    xg = x.clone().requires_grad_()
    out, state = LIF(beta=0.9, backend=backend)(xg)
    out.sum().backward()
    assert xg.grad is not None and bool(torch.isfinite(xg.grad).all())
    zeros = torch.zeros(1, 3, 7)
    with torch.no_grad():
        _, s_leak = LIF(beta=0.9, v_leak=0.5, backend=backend)(zeros)  # cached per value: 0.5 ...
        _, s_zero = LIF(beta=0.9, backend=backend)(zeros)              # ... and 0.0 side by side
        _, s_ref = LIF(beta=0.9, v_leak=0.5, backend="torch")(zeros, LIFState(torch.full((3, 7), 0.5)))
    assert bool((s_zero.v == 0).all())
    assert torch.equal(s_leak.v, s_ref.v) and bool((s_leak.v != 0).all())
