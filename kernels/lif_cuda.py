"""LIF-family scans on NVIDIA GPUs with ``numba.cuda``: one thread per neuron, looping over time.

Consecutive threads handle consecutive neurons, so every access to a ``[T, N]`` array is
coalesced. The arithmetic is the ``lif_math`` code the CPU kernels compile (``compile_for("cuda")``,
built without floating-point contraction, see ``_cuda_device``), and the arguments follow
``lif_cpu``'s; absent arrays are 1x1 placeholders with a flag (uniform branches cost nothing on a
GPU). Import this module only when the CUDA backend is requested (it needs ``numba-cuda``); with
``NUMBA_ENABLE_CUDASIM=1`` it runs on Numba's CUDA simulator.

Memory traffic is the cost of a scan, so the kernels move the least the recurrence allows:

* **Blocks of** :data:`STEPS` **time steps.** A thread loads the inputs of the next block while it
  computes the current one (``cur`` / ``nxt``: registers, the loops have constant trip counts and
  are unrolled), so ``STEPS`` loads per thread are in flight instead of one: the time loop is not
  bound by memory latency when few neurons (few warps) run.
* **Nothing stored for backward but checkpoints.** With gradients the forward writes the state
  ``(i, v, a)`` every ``STEPS`` steps (``ckpt [n_checkpoints(T), N]`` per state, 1/STEPS of a
  sequence); the backward walks the blocks in reverse, recomputes each block's forward from its
  checkpoint into registers (bit-identical: the same operations) and runs the reverse steps over
  it. A forward with gradients thus moves ``x`` in and spikes out (8 bytes per fp32 neuron-step),
  the backward ``x`` and ``dL/ds`` in and ``dx`` out (12 bytes): no membrane sequence is written or
  read, and no spike is stored for backward.
* **Mixed precision** (``io``, :mod:`._cuda_io`): fp16/bf16 inputs, spikes, spike gradients and
  input gradients are read and written in their own format, converted per element; states,
  coefficients and every accumulation stay in float32.

Gradient arrays come with a mode each (``GRAD_*``): absent, a ``[T, N]`` array, or one value
broadcast to every element (the ``[1, 1]`` corner of a stride-0 gradient such as that of
``out.sum()``), so no gradient is expanded into a full array first.

Non-finite values: each forward thread sums ``x * 0`` over its inputs and ``state * 0`` over its
initial state and writes ``codes[0]`` (input) or ``codes[1]`` (state) into ``flag[0]`` when a sum
is NaN; the host reads the flag later without synchronising (``neuro.ops._launch.NonFiniteFlag``).
"""

from functools import cache

from numba import cuda

from . import lif_math
from ._cuda_device import report_non_finite
from ._cuda_io import accessors

THREADS_PER_BLOCK = 128
#: time steps per block: the forward's prefetch depth, the checkpoint interval and the backward's
#: recompute segment (registers per buffer)
STEPS = 8
#: modes of a gradient array: absent, a full ``[T, N]`` array, one value for every element
GRAD_ABSENT, GRAD_FULL, GRAD_SCALAR = 0, 1, 2

ns = lif_math.compile_for("cuda")
LIFCarry, LIFStructure = lif_math.LIFCarry, lif_math.LIFStructure


def blocks_for(n: int) -> int:
    """Number of thread blocks covering ``n`` neurons."""
    return (n + THREADS_PER_BLOCK - 1) // THREADS_PER_BLOCK


def n_checkpoints(T: int) -> int:
    """Rows of the checkpoint arrays of a ``T``-step scan: the states before steps ``STEPS``,
    ``2 STEPS``, ... (the state before step 0 is the initial state)."""
    return max(T - 1, 0) // STEPS


@cache
def forward_kernel(has_syn: bool, has_adapt: bool, spiking: bool, io: str = "native"):
    """Forward scan for one model structure and input format ``io``.

    Signature: ``(x, prm, consts, state0, reset, ge, seqs, store, last, ckpt, flag, codes)`` with
    ``seqs = (s_out, v_out, i_out, a_out)`` ``[T, N]`` written where ``store = (store_s, store_v,
    store_i, store_a, store_ckpt)`` says (spikes in ``x``'s format, the others in the compute dtype
    of ``consts``), ``last = (i_last, v_last, a_last)``, ``ckpt = (ck_i, ck_v, ck_a)``
    ``[n_checkpoints(T), N]`` (a state's row is written when the model has that state) and the
    non-finite report ``flag [1]`` int32, ``codes = (input code, state code)``.
    """
    load, store_io = accessors(io)

    @cuda.jit
    def lif_scan_forward(x, prm, consts, state0, reset, ge, seqs, store, last, ckpt, flag, codes):
        n = cuda.grid(1)
        T, N = x.shape
        if n >= N:
            return
        zero, one = consts[0], consts[1]
        st = LIFStructure(has_syn, has_adapt, spiking, reset, ge)
        k = ns.load_coefficients(prm, n % prm.shape[1])
        i, v, a = state0[0][n], state0[1][n], state0[2][n]
        report_non_finite(flag, codes[1], i * zero + v * zero + a * zero)
        s = ns.pending_reset(v, k, st, one, zero)
        s_out, v_out, i_out, a_out = seqs
        store_s, store_v, store_i, store_a, store_ckpt = store
        bad = zero  # sum of x * 0: NaN iff an input was NaN or inf
        cur = cuda.local.array(STEPS, consts.dtype)
        nxt = cuda.local.array(STEPS, consts.dtype)
        for u in range(STEPS):
            if u < T:
                cur[u] = load(x, u, n)
        for t0 in range(0, T, STEPS):
            for u in range(STEPS):  # the next block's inputs, in flight while this block computes
                if t0 + STEPS + u < T:
                    nxt[u] = load(x, t0 + STEPS + u, n)
            if store_ckpt and t0 > 0:
                c = t0 // STEPS - 1
                if has_syn:
                    ckpt[0][c, n] = i
                ckpt[1][c, n] = v
                if has_adapt:
                    ckpt[2][c, n] = a
            for u in range(STEPS):
                t = t0 + u
                if t < T:
                    xt = cur[u]
                    bad += xt * zero
                    i_n, h, v, a_n, s = ns.lif_forward_step(xt, i, v, a, s, k, st, one, zero)
                    if has_syn:
                        i = i_n
                    if has_adapt:
                        a = a_n
                    if store_s:
                        store_io(s_out, t, n, s)
                    if store_v:
                        v_out[t, n] = v
                    if store_i:
                        i_out[t, n] = i
                    if store_a:
                        a_out[t, n] = a
            for u in range(STEPS):
                cur[u] = nxt[u]
        last[0][n] = i
        last[1][n] = v
        last[2][n] = a
        report_non_finite(flag, codes[0], bad)

    return lif_scan_forward


@cache
def backward_kernel(has_syn: bool, has_adapt: bool, spiking: bool, need_pgrad: bool, io: str = "native"):
    """Reverse-time scan for one model structure and input format ``io`` (``lif_cpu.backward_kernel``
    computes the same per neuron).

    Signature: ``(x, prm, consts, state0, reset, ge, sg_kind, ckpt, grads, modes, grads_last, dx,
    d_state0, d_prm)``: ``ckpt`` the forward's checkpoints, ``grads = (g_s, g_v, g_i, g_a)`` with
    ``modes`` (``GRAD_*``; ``g_s`` in ``x``'s format, the others in the compute dtype), ``dx``
    written in ``x``'s format. Each block of ``STEPS`` steps, last first: load its inputs and spike
    gradients (all in flight together), recompute its forward from the checkpoint into registers,
    then run the reverse steps over it.
    """
    load, store_io = accessors(io)

    @cuda.jit
    def lif_scan_backward(x, prm, consts, state0, reset, ge, sg_kind, ckpt, grads, modes, grads_last,
                          dx, d_state0, d_prm):
        n = cuda.grid(1)
        T, N = x.shape
        if n >= N:
            return
        zero, one, keep, sg_a, sg_b = consts[0], consts[1], consts[2], consts[3], consts[4]
        st = LIFStructure(has_syn, has_adapt, spiking, reset, ge)
        k = ns.load_coefficients(prm, n % prm.shape[1])
        i0, v0, a0 = state0
        g_s, g_v, g_i, g_a = grads
        m_s, m_v, m_i, m_a = modes
        # one value for every element (GRAD_SCALAR), read once
        gs_all = load(g_s, 0, 0) if m_s == GRAD_SCALAR else zero
        gv_all = g_v[0, 0] if m_v == GRAD_SCALAR else zero
        gi_all = g_i[0, 0] if m_i == GRAD_SCALAR else zero
        ga_all = g_a[0, 0] if m_a == GRAD_SCALAR else zero
        carry = LIFCarry(grads_last[1][n], grads_last[0][n], grads_last[2][n], zero)
        acc = ns.zero_coefficients(zero)  # this neuron's coefficient gradients, summed over time
        xb = cuda.local.array(STEPS, consts.dtype)   # inputs x_t
        gb = cuda.local.array(STEPS, consts.dtype)   # dL/ds_t
        hb = cuda.local.array(STEPS, consts.dtype)   # pre-reset membranes h_t
        ab = cuda.local.array(STEPS, consts.dtype)   # a_{t-1} (the threshold of step t)
        vb = cuda.local.array(STEPS, consts.dtype)   # v_{t-1}           (coefficient gradients)
        sb = cuda.local.array(STEPS, consts.dtype)   # s_{t-1}           (coefficient gradients)
        ib = cuda.local.array(STEPS, consts.dtype)   # i_{t-1}           (coefficient gradients)
        jb = cuda.local.array(STEPS, consts.dtype)   # i_t               (coefficient gradients)
        for seg in range((T + STEPS - 1) // STEPS - 1, -1, -1):
            t0 = seg * STEPS
            for u in range(STEPS):
                t = t0 + u
                if t < T:
                    xb[u] = load(x, t, n)
                    gb[u] = load(g_s, t, n) if m_s == GRAD_FULL else gs_all
            if seg == 0:
                i, v, a = i0[n], v0[n], a0[n]
            else:
                i = ckpt[0][seg - 1, n] if has_syn else zero
                v = ckpt[1][seg - 1, n]
                a = ckpt[2][seg - 1, n] if has_adapt else zero
            s = ns.pending_reset(v, k, st, one, zero)
            for u in range(STEPS):  # recompute the block's forward
                if t0 + u < T:
                    ab[u] = a
                    if need_pgrad:
                        vb[u] = v
                        sb[u] = s
                        ib[u] = i
                    i_n, h, v, a_n, s = ns.lif_forward_step(xb[u], i, v, a, s, k, st, one, zero)
                    hb[u] = h
                    if has_syn:
                        i = i_n
                    if has_adapt:
                        a = a_n
                    if need_pgrad:
                        jb[u] = i if has_syn else xb[u]
            for r in range(STEPS):  # reverse steps over the block
                u = STEPS - 1 - r
                t = t0 + u
                if t < T:
                    a_prev = ab[u] if has_adapt else zero
                    theta = ns.threshold(k.th, k.ba, a_prev, has_adapt)
                    h = hb[u]
                    s = ns.fires(h, theta, ge, one, zero) if spiking else zero
                    sg = ns.surrogate_grad(sg_kind, sg_a, sg_b, h - theta, one, zero) if spiking else zero
                    gv = g_v[t, n] if m_v == GRAD_FULL else gv_all
                    gi = g_i[t, n] if m_i == GRAD_FULL else gi_all
                    ga = g_a[t, n] if m_a == GRAD_FULL else ga_all
                    dxv, back, g = ns.lif_backward_step(gb[u], gv, gi, ga, h, theta, s, sg, carry, k, st,
                                                        keep, one, zero)
                    # without a current / adaptation their final-state gradient passes through
                    carry = LIFCarry(back.dv, back.di if has_syn else carry.di,
                                     back.da if has_adapt else carry.da, back.dh)
                    store_io(dx, t, n, dxv)
                    if need_pgrad:
                        acc = ns.add_coefficients(acc, ns.lif_param_grads(g, s, xb[u], jb[u], ib[u], vb[u],
                                                                          sb[u], a_prev, st, zero))
        dv0 = carry.dv
        if reset == lif_math.RESET_SUBTRACT_DELAYED:  # the reset pending at t=0, read from v0
            d0 = ns.initial_reset_grad(v0[n], k.th, carry.dh, keep, sg_kind, sg_a, sg_b, st, one, zero)
            dv0 += d0
            acc = ns.with_threshold(acc, acc.th - d0)
        d_state0[0][n] = carry.di
        d_state0[1][n] = dv0
        d_state0[2][n] = carry.da
        if need_pgrad:
            ns.store_column(d_prm, n, acc)

    return lif_scan_backward
